import CZnetdTLS
import Glibc

/// One certificate chain and its private key, ready to serve: an OpenSSL server context of its
/// own (SNI switches a connection to it), and the names it is valid for.
///
/// Files are read once, when the certificate is loaded (at start and at each reload); the key
/// may be readable by root only, or come from a systemd credential (see ``resolvePath(_:)``).
public final class TLSCertificate: @unchecked Sendable {
    /// Immutable after init; OpenSSL contexts are safe to share between threads once set up.
    let context: OpaquePointer
    let openSSL: OpenSSLLibrary
    /// DNS names from subjectAltName (else the subject's common name), lowercased; a leading
    /// `*.` for wildcards.
    public let names: [String]
    public let certificatePath: String

    /// Loads `certificate` (PEM, the chain: leaf first) and `key` (PEM).
    public init(certificate: String, key: String) throws(TLSError) {
        let openSSL = try OpenSSLLibrary.load()
        guard let context = openSSL.SSL_CTX_new(openSSL.TLS_server_method()) else {
            throw TLSError("SSL_CTX_new", openSSL)
        }
        openSSL.setMinimumVersion(context, TLS1_2_VERSION)
        openSSL.setSessionCacheMode(context, SSL_SESS_CACHE_OFF)
        openSSL.setMode(
            context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS)
        // The server's cipher order; no renegotiation (a client could make it a CPU sink).
        _ = openSSL.SSL_CTX_set_options(context, znetd_tls_server_options())
        let certificatePath = Self.resolvePath(certificate), keyPath = Self.resolvePath(key)
        guard openSSL.SSL_CTX_use_certificate_chain_file(context, certificatePath) == 1 else {
            openSSL.SSL_CTX_free(context)
            throw TLSError("cannot load certificate chain \(certificatePath)", openSSL)
        }
        // With the certificate loaded first, OpenSSL also checks that the key is its key
        // ("key values mismatch" in the reason).
        guard openSSL.SSL_CTX_use_PrivateKey_file(context, keyPath, SSL_FILETYPE_PEM) == 1 else {
            openSSL.SSL_CTX_free(context)
            throw TLSError("cannot load private key \(keyPath)", openSSL)
        }
        self.context = context
        self.openSSL = openSSL
        self.certificatePath = certificatePath
        self.names = Self.names(of: openSSL.SSL_CTX_get0_certificate(context), openSSL)
    }

    deinit { openSSL.SSL_CTX_free(context) }

    /// `credential:NAME` is the file NAME in `$CREDENTIALS_DIRECTORY` (systemd's LoadCredential=
    /// and SetCredential=), so private keys need not sit where znetd's sandbox can read them;
    /// anything else is a path.
    public static func resolvePath(_ path: String) -> String {
        guard path.hasPrefix("credential:") else { return path }
        let name = String(path.dropFirst("credential:".count))
        let directory = getenv("CREDENTIALS_DIRECTORY").map { String(cString: $0) } ?? "/run/credentials"
        return directory + "/" + name
    }

    /// Whether this certificate is valid for `host` (lowercased, no port).
    public func covers(_ host: String) -> Bool {
        names.contains { name in
            if name.hasPrefix("*.") {
                // One label only, as browsers match wildcards.
                let suffix = name.dropFirst(1)
                guard host.hasSuffix(suffix) else { return false }
                let label = host.dropLast(suffix.count)
                return !label.isEmpty && !label.contains(".")
            }
            return name == host
        }
    }

    private static func names(of certificate: OpaquePointer?, _ openSSL: OpenSSLLibrary) -> [String] {
        guard let certificate else { return [] }
        var names: [String] = []
        if let raw = openSSL.X509_get_ext_d2i(certificate, NID_subject_alt_name, nil, nil) {
            let list = OpaquePointer(raw)
            for index in 0..<openSSL.OPENSSL_sk_num(list) {
                guard let entry = openSSL.OPENSSL_sk_value(list, index)?.assumingMemoryBound(to: GENERAL_NAME.self),
                    entry.pointee.type == GEN_DNS, let ia5 = entry.pointee.d.dNSName,
                    let bytes = openSSL.ASN1_STRING_get0_data(ia5)
                else { continue }
                let length = Int(openSSL.ASN1_STRING_length(ia5))
                names.append(String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self).lowercased())
            }
            openSSL.GENERAL_NAMES_free(list)
        }
        if names.isEmpty, let subject = openSSL.X509_get_subject_name(certificate) {
            var buffer = [CChar](repeating: 0, count: 256)
            if openSSL.X509_NAME_get_text_by_NID(subject, NID_commonName, &buffer, Int32(buffer.count)) > 0 {
                names.append(buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }.lowercased())
            }
        }
        return names
    }
}
