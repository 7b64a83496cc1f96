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
    /// Keeps the store (and so the certificates' contexts and the SNI callback's argument)
    /// alive as long as the connection.
    private let store: TLSCertificateStore?
    public let fd: Int32

    init(server context: OpaquePointer, fd: Int32, store: TLSCertificateStore) throws(TLSError) {
        guard let ssl = SSL_new(context) else { throw TLSError("SSL_new") }
        guard SSL_set_fd(ssl, fd) == 1 else {
            SSL_free(ssl)
            throw TLSError("SSL_set_fd")
        }
        SSL_set_accept_state(ssl)
        self.ssl = ssl
        self.fd = fd
        self.store = store
    }

    /// A client connection (for tests and health checks): `serverName` is sent as SNI.
    public init(client context: OpaquePointer, fd: Int32, serverName: String?) throws(TLSError) {
        guard let ssl = SSL_new(context) else { throw TLSError("SSL_new") }
        guard SSL_set_fd(ssl, fd) == 1 else {
            SSL_free(ssl)
            throw TLSError("SSL_set_fd")
        }
        if let serverName { _ = znetd_tls_set_host_name(ssl, serverName) }
        SSL_set_connect_state(ssl)
        self.ssl = ssl
        self.fd = fd
        self.store = nil
    }

    deinit { SSL_free(ssl) }

    public func handshake() -> Progress {
        progress(SSL_do_handshake(ssl), "handshake") { _ in 0 }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> Progress {
        progress(SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count)), "read") { Int($0) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) -> Progress {
        progress(SSL_write(ssl, bytes.baseAddress, Int32(clamping: bytes.count)), "write") { Int($0) }
    }

    /// Sends close_notify (best effort: the socket is closed next anyway).
    public func shutdown() { _ = SSL_shutdown(ssl) }

    /// The server name the client asked for (SNI), lowercased.
    public var serverName: String? {
        SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name).map { String(cString: $0).lowercased() }
    }

    /// The subject common name of the certificate the server presented (client side).
    public var peerCommonName: String? {
        guard let certificate = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(certificate) }
        var buffer = [CChar](repeating: 0, count: 256)
        guard X509_NAME_get_text_by_NID(X509_get_subject_name(certificate), NID_commonName, &buffer, 256) > 0
        else { return nil }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    private func progress(_ result: Int32, _ operation: String, _ done: (Int32) -> Int) -> Progress {
        if result > 0 { return .done(done(result)) }
        let code = SSL_get_error(ssl, result)
        switch code {
        case SSL_ERROR_WANT_READ: return .wantsRead
        case SSL_ERROR_WANT_WRITE: return .wantsWrite
        case SSL_ERROR_ZERO_RETURN: return .done(0)
        case SSL_ERROR_SYSCALL where ERR_peek_error() == 0:
            // The peer closed without close_notify (many clients do after a response).
            return result == 0 ? .done(0) : .failed("\(operation): \(String(cString: strerror(errno)))")
        default:
            return .failed(TLSError("TLS \(operation) failed").description)
        }
    }
}
