import CZnetdLinux
import Glibc
public import ZnetdConfig

/// A listening stream socket and the service it feeds.
///
/// Sockets inherited from systemd belong to systemd: znetd never closes or shuts them down, so
/// connections keep queueing in the kernel while znetd restarts. Sockets znetd bound itself are
/// closed (and their unix socket files removed) when their service goes away.
public final class ListenSocket: Sendable, CustomStringConvertible {
    public let fd: Int32
    public let serviceName: String
    /// The configured address this socket serves.
    public let address: ListenAddress
    /// What the kernel says it is bound to.
    public let bound: SocketAddress?
    public let isInherited: Bool

    init(fd: Int32, serviceName: String, address: ListenAddress, isInherited: Bool) {
        self.fd = fd
        self.serviceName = serviceName
        self.address = address
        self.bound = SocketAddress.local(of: fd)
        self.isInherited = isInherited
    }

    public var description: String { bound.map { "\($0)" } ?? "\(address)" }

    /// Applies the options znetd wants on every accepted connection once, on the listener:
    /// Linux copies TCP_NODELAY and keepalive settings to the sockets accept() returns.
    func prepare(keepalive: Keepalive?) {
        guard let bound, bound.family != AF_UNIX else { return }
        _ = znetd_set_int_option(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        if let keepalive {
            setKeepalive(fd, keepalive)
        } else {
            _ = znetd_set_int_option(fd, SOL_SOCKET, SO_KEEPALIVE, 0)
        }
    }

    /// Closes a socket znetd bound itself. Inherited sockets are left alone.
    func closeIfOwned() {
        guard !isInherited else { return }
        if case .unix(let path) = address, !path.hasPrefix("@") { unlink(path) }
        Glibc.close(fd)
    }

    // MARK: Binding

    /// Binds and listens on a configured address: one socket, or one per interface address.
    static func bind(
        _ address: ListenAddress, service: String, options: SocketOptions = SocketOptions()
    ) throws(SystemError) -> [ListenSocket] {
        switch address {
        case .inet(let host, let port):
            if let host {
                guard let sockaddr = SocketAddress(ip: host, port: port) else {
                    throw SystemError("bind", errno: EINVAL, subject: "\(address)")
                }
                return [try listen(on: sockaddr, address, service, options: options)]
            }
            // Wildcard: one dual-stack socket; IPv4 only where the kernel has no IPv6.
            do {
                return [try listen(on: SocketAddress(ip: "::", port: port)!, address, service, options: options, dualStack: true)]
            } catch where error.errno == EAFNOSUPPORT {
                return [try listen(on: SocketAddress(ip: "0.0.0.0", port: port)!, address, service, options: options)]
            }
        case .unix(let path):
            guard let sockaddr = SocketAddress(unixPath: path) else {
                throw SystemError("bind", errno: ENAMETOOLONG, subject: path)
            }
            if !path.hasPrefix("@") { removeStaleSocket(path) }
            return [try listen(on: sockaddr, address, service, options: options)]
        case .interface(let name, let port):
            let addresses = interfaceAddresses(name, port: port)
            guard !addresses.isEmpty else {
                throw SystemError("bind", errno: EADDRNOTAVAIL, subject: "interface \(name) (it has no IP address)")
            }
            var sockets: [ListenSocket] = []
            do {
                for sockaddr in addresses { sockets.append(try listen(on: sockaddr, address, service, options: options)) }
            } catch {
                for socket in sockets { socket.closeIfOwned() }
                throw error
            }
            return sockets
        }
    }

    private static func listen(
        on sockaddr: SocketAddress, _ address: ListenAddress, _ service: String, options: SocketOptions,
        dualStack: Bool = false
    ) throws(SystemError) -> ListenSocket {
        let fd = znetd_socket(sockaddr.family, ZNETD_SOCK_STREAM)
        guard fd >= 0 else { throw SystemError("socket", subject: "\(sockaddr)") }
        if sockaddr.family != AF_UNIX {
            _ = znetd_set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            if options.reusePort { _ = znetd_set_int_option(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
            if options.freeBind {
                // IP_FREEBIND covers IPv6 sockets too (IPV6_FREEBIND needs Linux 4.15+ headers).
                _ = znetd_set_int_option(fd, Int32(IPPROTO_IP), IP_FREEBIND, 1)
            }
        }
        if dualStack {
            _ = znetd_set_int_option(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0)
        }
        if sockaddr.withSockaddr({ Glibc.bind(fd, $0, $1) }) != 0 {
            let error = SystemError("bind", subject: "\(sockaddr)")
            Glibc.close(fd)
            throw error
        }
        if Glibc.listen(fd, Int32(options.backlog)) != 0 {
            let error = SystemError("listen", subject: "\(sockaddr)")
            Glibc.close(fd)
            throw error
        }
        return ListenSocket(fd: fd, serviceName: service, address: address, isInherited: false)
    }

    /// A socket file left by a previous run would make bind fail with EADDRINUSE.
    private static func removeStaleSocket(_ path: String) {
        var info = stat()
        if lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK { unlink(path) }
    }

    /// Every IPv4 and IPv6 address of a network interface, with the given port.
    static func interfaceAddresses(_ name: String, port: UInt16) -> [SocketAddress] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var result: [SocketAddress] = []
        var entry = list
        while let item = entry {
            defer { entry = item.pointee.ifa_next }
            guard String(cString: item.pointee.ifa_name) == name, let raw = item.pointee.ifa_addr else { continue }
            let family = Int32(raw.pointee.sa_family)
            guard family == AF_INET || family == AF_INET6 else { continue }
            let length = socklen_t(family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
            var address = SocketAddress(raw: raw, length: length)
            address = address.withPort(port)
            result.append(address)
        }
        return result
    }
}

extension SocketAddress {
    /// The same IP address with another port (scope ids of link-local addresses are kept).
    func withPort(_ port: UInt16) -> SocketAddress {
        var copy = self
        copy.withMutableSockaddr { raw in
            switch Int32(raw.pointee.sa_family) {
            case AF_INET:
                raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port = port.bigEndian }
            case AF_INET6:
                raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port = port.bigEndian }
            default:
                break
            }
        }
        return copy
    }
}
