/// A shared listener (`listeners:`): one set of listening sockets in front of several services,
/// which reach it through their `routes:`. In `http` mode znetd reads each request's head and
/// routes it by Host and path; in `tcp` mode it reads the TLS ClientHello's server name (SNI)
/// and then relays the connection unchanged.
public struct ListenerConfig: Sendable, Hashable {
    public var name: String
    public var listen: [ListenAddress]
    public var mode: ListenerMode
    /// TLS termination (http mode only); nil: plain HTTP.
    public var tls: ListenerTLS?
    /// Which headers tell the backend about the client.
    public var forwarded: ForwardedStyle
    public var socketOptions: SocketOptions
    public var clientAccess: ClientAccess
    /// Where the listener is defined (its key under `listeners:`), for messages.
    public var location: SourceLocation?

    public init(
        name: String,
        listen: [ListenAddress],
        mode: ListenerMode = .http,
        tls: ListenerTLS? = nil,
        forwarded: ForwardedStyle = .xForwarded,
        socketOptions: SocketOptions = SocketOptions(),
        clientAccess: ClientAccess = ClientAccess(),
        location: SourceLocation? = nil
    ) {
        self.name = name
        self.listen = listen
        self.mode = mode
        self.tls = tls
        self.forwarded = forwarded
        self.socketOptions = socketOptions
        self.clientAccess = clientAccess
        self.location = location
    }

    /// Equal in every setting, ignoring where it was written.
    public func sameSettings(as other: ListenerConfig) -> Bool {
        var a = self, b = other
        a.location = nil
        b.location = nil
        return a == b
    }
}

public enum ListenerMode: String, Sendable, Hashable, CaseIterable {
    /// Route each HTTP/1.x request by Host and path (keep-alive connections re-route per request).
    case http
    /// Route each connection by the server name of its TLS ClientHello, without terminating TLS.
    case tcp
}

/// How a shared HTTP listener tells backends who the client is.
public enum ForwardedStyle: String, Sendable, Hashable, CaseIterable {
    /// X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host (the default).
    case xForwarded = "x-forwarded"
    /// RFC 7239 `Forwarded: for=...;proto=...;host=...`.
    case forwarded
    /// No headers added (the request goes as it came).
    case none
}

/// TLS termination on a shared HTTP listener.
public struct ListenerTLS: Sendable, Hashable {
    /// Chosen by the ClientHello's server name (exact, then wildcard); the first is the default.
    public var certificates: [TLSCertificateFiles]

    public init(certificates: [TLSCertificateFiles]) {
        self.certificates = certificates
    }
}

/// Where a certificate chain and its private key are read from.
public struct TLSCertificateFiles: Sendable, Hashable {
    public var certificate: CredentialPath
    public var key: CredentialPath

    public init(certificate: CredentialPath, key: CredentialPath) {
        self.certificate = certificate
        self.key = key
    }
}

/// A file named by an absolute path, or `credential:NAME`: the systemd credential NAME
/// (`$CREDENTIALS_DIRECTORY/NAME`, which `LoadCredential=` fills), so that private keys need
/// not be readable by znetd's user anywhere else.
public enum CredentialPath: Sendable, Hashable, CustomStringConvertible {
    case file(String)
    case credential(String)

    public var description: String {
        switch self {
        case .file(let path): path
        case .credential(let name): "credential:" + name
        }
    }
}

/// One way into a service through a shared listener.
public struct ServiceRoute: Sendable, Hashable, CustomStringConvertible {
    public var listener: String
    /// `example.com`, `*.example.com`, or nil: any host.
    public var host: String?
    /// A path prefix matched at segment boundaries (http listeners only); nil: `/`.
    public var path: String?

    public init(listener: String, host: String? = nil, path: String? = nil) {
        self.listener = listener
        self.host = host
        self.path = path
    }

    /// `web blog.example.com/blog`, `web */api`, for messages.
    public var description: String {
        "\(listener) \(host ?? "*")\(path ?? "/")"
    }
}
