import CZnetdTLS

/// The certificates of one TLS listener; a handshake picks one by the name the client sends
/// (SNI): an exact name first, then a wildcard, else the first certificate.
public final class TLSCertificateStore: @unchecked Sendable {
    /// Immutable after init; a reload builds a new store and new connections use it.
    public let certificates: [TLSCertificate]

    public init(_ certificates: [TLSCertificate]) {
        precondition(!certificates.isEmpty, "a TLS listener needs a certificate")
        self.certificates = certificates
        for certificate in certificates {
            certificate.openSSL.setServernameCallback(
                certificate.context, selectCertificate, Unmanaged.passUnretained(self).toOpaque())
        }
    }

    /// The certificate for a server name; the first one when none covers it (or no SNI).
    public func certificate(for serverName: String?) -> TLSCertificate {
        guard let name = serverName?.lowercased() else { return certificates[0] }
        if let exact = certificates.first(where: { $0.names.contains(name) }) { return exact }
        return certificates.first { $0.covers(name) } ?? certificates[0]
    }

    /// A server-side connection over `fd` (nonblocking), starting on the first certificate.
    public func accept(fd: Int32) throws(TLSError) -> TLSStream {
        try TLSStream(server: certificates[0].context, fd: fd, store: self, openSSL: certificates[0].openSSL)
    }
}

/// OpenSSL's servername callback: switch the connection to the certificate for the name.
private func selectCertificate(
    _ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?, _ argument: UnsafeMutableRawPointer?
) -> Int32 {
    guard let ssl, let argument else { return SSL_TLSEXT_ERR_NOACK }
    let store = Unmanaged<TLSCertificateStore>.fromOpaque(argument).takeUnretainedValue()
    let openSSL = store.certificates[0].openSSL
    let name = openSSL.SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name).map { String(cString: $0) }
    let chosen = store.certificate(for: name)
    if openSSL.SSL_get_SSL_CTX(ssl) != chosen.context { _ = openSSL.SSL_set_SSL_CTX(ssl, chosen.context) }
    return SSL_TLSEXT_ERR_OK
}
