/// An OpenSSL client context without certificate verification: what znetd's own tests (and a
/// future TLS health check) use to talk to a TLS listener.
public final class TLSClientContext: @unchecked Sendable {
    let context: OpaquePointer
    let openSSL: OpenSSLLibrary

    public init() throws(TLSError) {
        let openSSL = try OpenSSLLibrary.load()
        guard let context = openSSL.SSL_CTX_new(openSSL.TLS_client_method()) else {
            throw TLSError("SSL_CTX_new", openSSL)
        }
        self.context = context
        self.openSSL = openSSL
    }

    deinit { openSSL.SSL_CTX_free(context) }
}
