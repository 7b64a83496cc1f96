public import Glibc

/// A failed system call: which call, on what, and errno.
///
/// Only the control plane throws these; the data plane checks return values inline.
public struct SystemError: Error, Sendable, CustomStringConvertible {
    public var call: String
    public var errno: Int32
    public var subject: String?

    public init(_ call: String, errno: Int32 = Glibc.errno, subject: String? = nil) {
        self.call = call
        self.errno = errno
        self.subject = subject
    }

    public var description: String {
        let what = subject.map { "\(call) \($0)" } ?? call
        return "\(what): \(errnoDescription(errno))"
    }
}

/// strerror(3) as a Swift string.
public func errnoDescription(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// Calls `body` until it does not fail with EINTR; returns its result or throws a SystemError.
@discardableResult
func retryingEINTR<T: BinaryInteger>(
    _ call: String, subject: String? = nil, _ body: () -> T
) throws(SystemError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        if errno == EINTR { continue }
        throw SystemError(call, subject: subject)
    }
}
