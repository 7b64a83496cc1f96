import CZnetdTLS
import Glibc

/// Debian's libssl3 (and through it libcrypto), opened with dlopen(3) the first time a TLS
/// listener is configured, and the OpenSSL functions znetd calls.
///
/// Why not link it: a process that merely loads libssl and libcrypto pays ~470 KiB of private
/// memory for their relocated data, a third of the daemon's idle budget (bench/footprint), and
/// most znetd processes never terminate TLS. So znetd links no OpenSSL symbol (the link would
/// fail if one slipped in: CZnetdTLS only provides the headers), and looks the functions up here.
/// The headers still give the types and constants; the functions OpenSSL defines as macros over
/// `SSL_CTX_ctrl`/`SSL_ctrl` are spelled out below as the headers define them.
struct OpenSSLLibrary: @unchecked Sendable {
    typealias ServernameCallback = @convention(c) (
        OpaquePointer?, UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?
    ) -> Int32

    /// The soname Debian 12's libssl3 package installs.
    static let soname = "libssl.so.3"

    /// Loaded once, on first use; the failure (no libssl3, a symbol missing) is kept and
    /// reported by every TLS listener that needs it.
    static let shared: Result<OpenSSLLibrary, TLSError> = Result { () throws(TLSError) in try OpenSSLLibrary() }

    static func load() throws(TLSError) -> OpenSSLLibrary { try shared.get() }

    let TLS_server_method: @convention(c) () -> OpaquePointer?
    let TLS_client_method: @convention(c) () -> OpaquePointer?
    let SSL_CTX_new: @convention(c) (OpaquePointer?) -> OpaquePointer?
    let SSL_CTX_free: @convention(c) (OpaquePointer?) -> Void
    let SSL_CTX_ctrl: @convention(c) (OpaquePointer?, Int32, Int, UnsafeMutableRawPointer?) -> Int
    let SSL_CTX_callback_ctrl: @convention(c) (OpaquePointer?, Int32, (@convention(c) () -> Void)?) -> Int
    let SSL_CTX_set_options: @convention(c) (OpaquePointer?, UInt64) -> UInt64
    let SSL_CTX_use_certificate_chain_file: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> Int32
    let SSL_CTX_use_PrivateKey_file: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int32) -> Int32
    let SSL_CTX_get0_certificate: @convention(c) (OpaquePointer?) -> OpaquePointer?
    let SSL_new: @convention(c) (OpaquePointer?) -> OpaquePointer?
    let SSL_free: @convention(c) (OpaquePointer?) -> Void
    let SSL_ctrl: @convention(c) (OpaquePointer?, Int32, Int, UnsafeMutableRawPointer?) -> Int
    let SSL_set_fd: @convention(c) (OpaquePointer?, Int32) -> Int32
    let SSL_set_accept_state: @convention(c) (OpaquePointer?) -> Void
    let SSL_set_connect_state: @convention(c) (OpaquePointer?) -> Void
    let SSL_do_handshake: @convention(c) (OpaquePointer?) -> Int32
    let SSL_read: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32) -> Int32
    let SSL_write: @convention(c) (OpaquePointer?, UnsafeRawPointer?, Int32) -> Int32
    let SSL_shutdown: @convention(c) (OpaquePointer?) -> Int32
    let SSL_get_error: @convention(c) (OpaquePointer?, Int32) -> Int32
    let SSL_get_servername: @convention(c) (OpaquePointer?, Int32) -> UnsafePointer<CChar>?
    let SSL_get_SSL_CTX: @convention(c) (OpaquePointer?) -> OpaquePointer?
    let SSL_set_SSL_CTX: @convention(c) (OpaquePointer?, OpaquePointer?) -> OpaquePointer?
    let SSL_get1_peer_certificate: @convention(c) (OpaquePointer?) -> OpaquePointer?
    let X509_free: @convention(c) (OpaquePointer?) -> Void
    let X509_get_subject_name: @convention(c) (OpaquePointer?) -> OpaquePointer?
    let X509_NAME_get_text_by_NID: @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<CChar>?, Int32) -> Int32
    let X509_get_ext_d2i: @convention(c) (
        OpaquePointer?, Int32, UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?
    ) -> UnsafeMutableRawPointer?
    let OPENSSL_sk_num: @convention(c) (OpaquePointer?) -> Int32
    let OPENSSL_sk_value: @convention(c) (OpaquePointer?, Int32) -> UnsafeMutableRawPointer?
    let GENERAL_NAMES_free: @convention(c) (OpaquePointer?) -> Void
    let ASN1_STRING_get0_data: @convention(c) (UnsafePointer<ASN1_STRING>?) -> UnsafePointer<UInt8>?
    let ASN1_STRING_length: @convention(c) (UnsafePointer<ASN1_STRING>?) -> Int32
    let ERR_get_error: @convention(c) () -> UInt
    let ERR_peek_error: @convention(c) () -> UInt
    let ERR_error_string_n: @convention(c) (UInt, UnsafeMutablePointer<CChar>?, Int) -> Void

    private init() throws(TLSError) {
        // RTLD_LOCAL: nothing else in the process should bind to OpenSSL's symbols by accident.
        guard let handle = dlopen(Self.soname, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw TLSError(unloaded: "TLS needs \(Self.soname) (Debian package libssl3): \(reason)")
        }
        // dlsym on libssl's handle also searches its dependencies, so libcrypto's functions
        // are found through the same handle.
        func symbol<Function>(_ name: String, _: Function.Type = Function.self) throws(TLSError) -> Function {
            guard let address = dlsym(handle, name) else {
                throw TLSError(unloaded: "\(Self.soname) has no function \(name)")
            }
            return unsafeBitCast(address, to: Function.self)
        }
        TLS_server_method = try symbol("TLS_server_method")
        TLS_client_method = try symbol("TLS_client_method")
        SSL_CTX_new = try symbol("SSL_CTX_new")
        SSL_CTX_free = try symbol("SSL_CTX_free")
        SSL_CTX_ctrl = try symbol("SSL_CTX_ctrl")
        SSL_CTX_callback_ctrl = try symbol("SSL_CTX_callback_ctrl")
        SSL_CTX_set_options = try symbol("SSL_CTX_set_options")
        SSL_CTX_use_certificate_chain_file = try symbol("SSL_CTX_use_certificate_chain_file")
        SSL_CTX_use_PrivateKey_file = try symbol("SSL_CTX_use_PrivateKey_file")
        SSL_CTX_get0_certificate = try symbol("SSL_CTX_get0_certificate")
        SSL_new = try symbol("SSL_new")
        SSL_free = try symbol("SSL_free")
        SSL_ctrl = try symbol("SSL_ctrl")
        SSL_set_fd = try symbol("SSL_set_fd")
        SSL_set_accept_state = try symbol("SSL_set_accept_state")
        SSL_set_connect_state = try symbol("SSL_set_connect_state")
        SSL_do_handshake = try symbol("SSL_do_handshake")
        SSL_read = try symbol("SSL_read")
        SSL_write = try symbol("SSL_write")
        SSL_shutdown = try symbol("SSL_shutdown")
        SSL_get_error = try symbol("SSL_get_error")
        SSL_get_servername = try symbol("SSL_get_servername")
        SSL_get_SSL_CTX = try symbol("SSL_get_SSL_CTX")
        SSL_set_SSL_CTX = try symbol("SSL_set_SSL_CTX")
        SSL_get1_peer_certificate = try symbol("SSL_get1_peer_certificate")
        X509_free = try symbol("X509_free")
        X509_get_subject_name = try symbol("X509_get_subject_name")
        X509_NAME_get_text_by_NID = try symbol("X509_NAME_get_text_by_NID")
        X509_get_ext_d2i = try symbol("X509_get_ext_d2i")
        OPENSSL_sk_num = try symbol("OPENSSL_sk_num")
        OPENSSL_sk_value = try symbol("OPENSSL_sk_value")
        GENERAL_NAMES_free = try symbol("GENERAL_NAMES_free")
        ASN1_STRING_get0_data = try symbol("ASN1_STRING_get0_data")
        ASN1_STRING_length = try symbol("ASN1_STRING_length")
        ERR_get_error = try symbol("ERR_get_error")
        ERR_peek_error = try symbol("ERR_peek_error")
        ERR_error_string_n = try symbol("ERR_error_string_n")
    }

    // MARK: OpenSSL's macros, as ssl.h defines them

    /// SSL_CTX_set_min_proto_version
    func setMinimumVersion(_ context: OpaquePointer, _ version: Int32) {
        _ = SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(version), nil)
    }

    /// SSL_CTX_set_session_cache_mode
    func setSessionCacheMode(_ context: OpaquePointer, _ mode: Int32) {
        _ = SSL_CTX_ctrl(context, SSL_CTRL_SET_SESS_CACHE_MODE, Int(mode), nil)
    }

    /// SSL_CTX_set_mode
    func setMode(_ context: OpaquePointer, _ mode: UInt32) {
        _ = SSL_CTX_ctrl(context, SSL_CTRL_MODE, Int(mode), nil)
    }

    /// SSL_CTX_set_tlsext_servername_callback and SSL_CTX_set_tlsext_servername_arg
    func setServernameCallback(_ context: OpaquePointer, _ callback: ServernameCallback, _ argument: UnsafeMutableRawPointer) {
        _ = SSL_CTX_ctrl(context, SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG, 0, argument)
        _ = SSL_CTX_callback_ctrl(
            context, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB, unsafeBitCast(callback, to: (@convention(c) () -> Void).self))
    }

    /// SSL_set_tlsext_host_name
    func setHostName(_ ssl: OpaquePointer, _ name: String) {
        _ = name.withCString { SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: $0)) }
    }
}
