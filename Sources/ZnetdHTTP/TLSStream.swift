import CZnetdTLS
import Glibc

/// One TLS connection over a nonblocking socket: the handshake, then reads and writes, each
/// returning what the socket must wait for instead of blocking.
public final class TLSStream {
    public enum Progress: Equatable {
        /// Done; for reads and writes, with the byte count (0 read: the peer closed cleanly).
        case done(Int)
        case wantsRead
        case wantsWrite
        /// The connection is unusable; the reason for the log.
        case failed(String)
    }

    private let ssl: OpaquePointer
    private let openSSL: OpenSSLLibrary
    /// Keeps the store (and so the certificates' contexts and the SNI callback's argument)
    /// alive as long as the connection.
    private let store: TLSCertificateStore?
    public let fd: Int32

    init(server context: OpaquePointer, fd: Int32, store: TLSCertificateStore, openSSL: OpenSSLLibrary) throws(TLSError) {
        guard let ssl = openSSL.SSL_new(context) else { throw TLSError("SSL_new", openSSL) }
        guard openSSL.SSL_set_fd(ssl, fd) == 1 else {
            openSSL.SSL_free(ssl)
            throw TLSError("SSL_set_fd", openSSL)
        }
        openSSL.SSL_set_accept_state(ssl)
        self.ssl = ssl
        self.openSSL = openSSL
        self.fd = fd
        self.store = store
    }

    /// A client connection (for tests and health checks): `serverName` is sent as SNI.
    public init(client context: TLSClientContext, fd: Int32, serverName: String?) throws(TLSError) {
        let openSSL = context.openSSL
        guard let ssl = openSSL.SSL_new(context.context) else { throw TLSError("SSL_new", openSSL) }
        guard openSSL.SSL_set_fd(ssl, fd) == 1 else {
            openSSL.SSL_free(ssl)
            throw TLSError("SSL_set_fd", openSSL)
        }
        if let serverName { openSSL.setHostName(ssl, serverName) }
        openSSL.SSL_set_connect_state(ssl)
        self.ssl = ssl
        self.openSSL = openSSL
        self.fd = fd
        self.store = nil
    }

    deinit { openSSL.SSL_free(ssl) }

    public func handshake() -> Progress {
        progress(openSSL.SSL_do_handshake(ssl), "handshake") { _ in 0 }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> Progress {
        progress(openSSL.SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count)), "read") { Int($0) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) -> Progress {
        progress(openSSL.SSL_write(ssl, bytes.baseAddress, Int32(clamping: bytes.count)), "write") { Int($0) }
    }

    /// Sends close_notify (best effort: the socket is closed next anyway).
    public func shutdown() { _ = openSSL.SSL_shutdown(ssl) }

    /// The server name the client asked for (SNI), lowercased.
    public var serverName: String? {
        openSSL.SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name).map { String(cString: $0).lowercased() }
    }

    /// The subject common name of the certificate the server presented (client side).
    public var peerCommonName: String? {
        guard let certificate = openSSL.SSL_get1_peer_certificate(ssl) else { return nil }
        defer { openSSL.X509_free(certificate) }
        var buffer = [CChar](repeating: 0, count: 256)
        guard openSSL.X509_NAME_get_text_by_NID(openSSL.X509_get_subject_name(certificate), NID_commonName, &buffer, 256) > 0
        else { return nil }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    private func progress(_ result: Int32, _ operation: String, _ done: (Int32) -> Int) -> Progress {
        if result > 0 { return .done(done(result)) }
        let code = openSSL.SSL_get_error(ssl, result)
        switch code {
        case SSL_ERROR_WANT_READ: return .wantsRead
        case SSL_ERROR_WANT_WRITE: return .wantsWrite
        case SSL_ERROR_ZERO_RETURN: return .done(0)
        case SSL_ERROR_SYSCALL where openSSL.ERR_peek_error() == 0:
            // The peer closed without close_notify (many clients do after a response).
            return result == 0 ? .done(0) : .failed("\(operation): \(String(cString: strerror(errno)))")
        default:
            return .failed(TLSError("TLS \(operation) failed", openSSL).description)
        }
    }
}
