extension ListenAddress {
    /// Whether two services listening on `self` and `other` would fight over the same socket.
    ///
    /// True for equal addresses, and for a wildcard and anything on its port: `:PORT` and
    /// `[::]:PORT` cover every address (sockets are dual-stack), `0.0.0.0:PORT` every IPv4 address,
    /// and a wildcard also covers `interface:NAME:PORT`. Specific addresses are not checked against
    /// interfaces, whose addresses are only known at run time.
    public func overlaps(_ other: ListenAddress) -> Bool {
        switch (self, other) {
        case (.unix(let a), .unix(let b)):
            return a == b
        case (.inet(let a, let portA), .inet(let b, let portB)):
            guard portA == portB else { return false }
            return HostScope(a).overlaps(HostScope(b))
        case (.interface(let a, let portA), .interface(let b, let portB)):
            return a == b && portA == portB
        case (.interface(_, let interfacePort), .inet(let host, let port)),
            (.inet(let host, let port), .interface(_, let interfacePort)):
            if case .single = HostScope(host) { return false }
            return port == interfacePort
        default:
            return false
        }
    }
}

/// The addresses an inet listen host stands for.
private enum HostScope {
    case everyAddress
    case everyIPv4Address
    case single(String)

    init(_ host: String?) {
        switch host {
        case nil, "::": self = .everyAddress
        case "0.0.0.0": self = .everyIPv4Address
        case let host?: self = .single(host)
        }
    }

    func overlaps(_ other: HostScope) -> Bool {
        switch (self, other) {
        case (.everyAddress, _), (_, .everyAddress): true
        case (.everyIPv4Address, .everyIPv4Address): true
        case (.everyIPv4Address, .single(let host)), (.single(let host), .everyIPv4Address): !host.contains(":")
        case (.single(let a), .single(let b)): a == b
        }
    }
}
