import CSystemd
import CZnetdLinux
import Glibc

/// A listening socket passed in by systemd (LISTEN_FDS), with its FileDescriptorName.
public struct InheritedSocket: Sendable, CustomStringConvertible {
    public var fd: Int32
    public var name: String
    public var bound: SocketAddress?

    public var description: String {
        "fd \(fd) (name '\(name)', bound to \(bound.map { "\($0)" } ?? "an unknown address"))"
    }
}

/// The socket-activation protocol, receiving side.
public enum ListenFDs {
    /// Takes the sockets systemd passed to this process and unsets LISTEN_* so children never
    /// see them. Empty when not socket-activated (or LISTEN_PID names another process).
    public static func take() throws(SystemError) -> [InheritedSocket] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        guard count >= 0 else { throw SystemError("sd_listen_fds_with_names", errno: -count) }
        defer {
            if let names {
                for i in 0..<Int(count) { free(names[i]) }
                free(names)
            }
        }
        var sockets: [InheritedSocket] = []
        for i in 0..<Int(count) {
            let fd = SD_LISTEN_FDS_START + Int32(i)
            let name = names?[i].map { String(cString: $0) } ?? "unknown"
            sockets.append(InheritedSocket(fd: fd, name: name, bound: SocketAddress.local(of: fd)))
        }
        return sockets
    }

    /// Whether `fd` is a listening SOCK_STREAM socket (Accept=no, ListenStream=).
    public static func isListeningStream(_ fd: Int32) -> Bool {
        znetd_is_listening_stream(fd) == 1
    }
}
