import Glibc
public import ZnetdConfig

/// Pairs the sockets systemd passed in with the listen addresses of the configuration.
///
/// Several .socket units may feed one service and arrive in any order, so position means
/// nothing: a socket whose FileDescriptorName is a service's name belongs to that service (to
/// the listen address it is bound to, or to the service's only address); any other socket is
/// matched by the address it is bound to.
public struct SocketMatcher {
    public struct Assignment: Sendable {
        public var service: String
        public var address: ListenAddress
        public var socket: InheritedSocket
    }

    public struct Result: Sendable {
        public var assignments: [Assignment] = []
        /// Sockets no service claims.
        public var unmatched: [InheritedSocket] = []
        /// Configured addresses no socket serves: (service, address).
        public var missing: [(service: String, address: ListenAddress)] = []
    }

    /// Something with listening sockets: a service, or a shared listener.
    public struct Owner: Sendable {
        public var name: String
        public var listen: [ListenAddress]

        public init(name: String, listen: [ListenAddress]) {
            self.name = name
            self.listen = listen
        }
    }

    public static func match(_ services: [ServiceConfig], _ sockets: [InheritedSocket]) -> Result {
        match(owners: services.map { Owner(name: $0.name, listen: $0.listen) }, sockets)
    }

    /// Services and shared listeners share one namespace, so their sockets are matched together.
    public static func match(owners services: [Owner], _ sockets: [InheritedSocket]) -> Result {
        var result = Result()
        var taken = Set<String>()  // "service\u{0}address"
        func key(_ s: String, _ a: ListenAddress) -> String { "\(s)\u{0}\(a)" }
        var rest: [InheritedSocket] = []
        for socket in sockets {
            guard let service = services.first(where: { $0.name == socket.name }) else {
                rest.append(socket)
                continue
            }
            let open = service.listen.filter { !taken.contains(key(service.name, $0)) || isMultiSocket($0) }
            if let address = open.first(where: { bound(socket.bound, serves: $0) })
                ?? (service.listen.count == 1 ? open.first : nil)
            {
                taken.insert(key(service.name, address))
                result.assignments.append(Assignment(service: service.name, address: address, socket: socket))
            } else {
                result.unmatched.append(socket)
            }
        }
        for socket in rest {
            var found = false
            for service in services where !found {
                for address in service.listen where !found {
                    guard !taken.contains(key(service.name, address)) || isMultiSocket(address),
                          bound(socket.bound, serves: address) else { continue }
                    taken.insert(key(service.name, address))
                    result.assignments.append(Assignment(service: service.name, address: address, socket: socket))
                    found = true
                }
            }
            if !found { result.unmatched.append(socket) }
        }
        for service in services {
            for address in service.listen where !taken.contains(key(service.name, address)) {
                result.missing.append((service.name, address))
            }
        }
        return result
    }

    /// An interface address may be served by one socket per address of the interface.
    private static func isMultiSocket(_ address: ListenAddress) -> Bool {
        if case .interface = address { return true }
        return false
    }

    /// Whether a socket bound to `bound` is what `address` asks for.
    static func bound(_ bound: SocketAddress?, serves address: ListenAddress) -> Bool {
        guard let bound else { return false }
        switch address {
        case .inet(nil, let port):
            return bound.port == port && bound.isWildcard
        case .inet(let host?, let port):
            return SocketAddress(ip: host, port: port) == bound
        case .unix(let path):
            return bound.family == AF_UNIX && bound.host == path
        case .interface(_, let port):
            // systemd binds these as the wildcard with BindToDevice=, or to one interface address.
            return bound.port == port
        }
    }
}
