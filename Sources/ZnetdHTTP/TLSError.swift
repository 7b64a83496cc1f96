import CZnetdTLS

/// A TLS failure, with OpenSSL's own reasons (its error queue, oldest first).
public struct TLSError: Error, Sendable, CustomStringConvertible {
    public var description: String

    /// `what` failed in OpenSSL; its error queue (emptied here) says why.
    init(_ what: String, _ openSSL: OpenSSLLibrary) {
        var reasons: [String] = []
        while case let code = openSSL.ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            openSSL.ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
        description = reasons.isEmpty ? what : "\(what): \(reasons.joined(separator: "; "))"
    }

    /// OpenSSL itself could not be loaded.
    init(unloaded reason: String) {
        description = reason
    }
}
