/// How a child process ended, decoded from a waitpid status.
public enum ExitStatus: Sendable, Hashable, CustomStringConvertible {
    /// It called exit (or returned from main) with this code.
    case exited(code: Int32)
    /// A signal ended it.
    case killed(signal: Int32, coreDumped: Bool)

    /// Decodes a waitpid status of a process that terminated (WIFEXITED / WIFSIGNALED; the
    /// macros do not import into Swift). nil for a stopped or continued process, which
    /// waitpid reports only with WUNTRACED or WCONTINUED.
    public init?(waitStatus status: Int32) {
        let low = status & 0x7f
        if low == 0 {
            self = .exited(code: (status >> 8) & 0xff)
        } else if low != 0x7f {
            self = .killed(signal: low, coreDumped: status & 0x80 != 0)
        } else {
            return nil
        }
    }

    /// True only for exit status 0.
    public var isSuccess: Bool { self == .exited(code: 0) }

    /// "exited with status 3", "killed by SIGKILL", "killed by SIGSEGV (core dumped)".
    public var description: String {
        switch self {
        case .exited(let code):
            return "exited with status \(code)"
        case .killed(let signal, let coreDumped):
            return "killed by \(SignalName.name(of: signal))\(coreDumped ? " (core dumped)" : "")"
        }
    }
}
