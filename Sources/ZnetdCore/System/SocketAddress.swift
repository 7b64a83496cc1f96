import CZnetdLinux
import Glibc

/// A socket address (IPv4, IPv6 or AF_UNIX) as the kernel sees it.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    private var storage = sockaddr_storage()
    private(set) var length: socklen_t = 0

    public var family: Int32 { Int32(storage.ss_family) }

    /// An IPv4 or IPv6 literal (no brackets) and a port, or nil if `host` is not a literal.
    public init?(ip host: String, port: UInt16) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr = v4
            self.init(copying: &sin)
        } else if inet_pton(AF_INET6, host, &v6) == 1 {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            sin6.sin6_addr = v6
            self.init(copying: &sin6)
        } else {
            return nil
        }
    }

    /// An AF_UNIX address; a path starting with "@" is in the abstract namespace.
    public init?(unixPath path: String) {
        var sun = sockaddr_un()
        sun.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: sun.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else { return nil }
        withUnsafeMutableBytes(of: &sun.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        // Abstract names are length-delimited; filesystem paths include their NUL.
        let length = pathOffset + bytes.count + (abstract ? 0 : 1)
        self.init(copying: &sun, length: socklen_t(length))
    }

    /// Copies a raw address the kernel filled in (accept, getsockname, getaddrinfo).
    init(raw: UnsafeRawPointer, length: socklen_t) {
        let n = min(Int(length), MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutableBytes(of: &storage) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: n))
        }
        self.length = socklen_t(n)
    }

    private init<T>(copying value: inout T, length: socklen_t? = nil) {
        let n = length ?? socklen_t(MemoryLayout<T>.size)
        self = withUnsafeBytes(of: &value) { SocketAddress(raw: $0.baseAddress!, length: n) }
    }

    /// The local address a socket is bound to.
    public static func local(of fd: Int32) -> SocketAddress? {
        query(fd, getsockname)
    }

    /// The address of a connected socket's peer.
    public static func peer(of fd: Int32) -> SocketAddress? {
        query(fd, getpeername)
    }

    private static func query(
        _ fd: Int32,
        _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, &length) }
        }
        guard rc == 0 else { return nil }
        return SocketAddress(raw: &storage, length: length)
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: storage) { raw in
            try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }

    mutating func withMutableSockaddr(_ body: (UnsafeMutablePointer<sockaddr>) -> Void) {
        withUnsafeMutableBytes(of: &storage) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self))
        }
    }

    /// The port of an IP address, nil for AF_UNIX.
    public var port: UInt16? {
        withUnsafeBytes(of: storage) { raw in
            switch family {
            case AF_INET: return UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
            case AF_INET6: return UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
            default: return nil
            }
        }
    }

    /// The address bytes of an IP address in network order (4 or 16), nil for AF_UNIX: for the
    /// PROXY protocol header and for hashing a client without formatting it.
    public var ipBytes: [UInt8]? {
        withUnsafeBytes(of: storage) { raw in
            switch family {
            case AF_INET:
                var a = raw.load(as: sockaddr_in.self).sin_addr
                return withUnsafeBytes(of: &a) { Array($0) }
            case AF_INET6:
                var a = raw.load(as: sockaddr_in6.self).sin6_addr
                return withUnsafeBytes(of: &a) { Array($0) }
            default: return nil
            }
        }
    }

    /// True for 0.0.0.0 and ::.
    public var isWildcard: Bool {
        withUnsafeBytes(of: storage) { raw in
            switch family {
            case AF_INET: return raw.load(as: sockaddr_in.self).sin_addr.s_addr == 0
            case AF_INET6:
                var sin6 = raw.load(as: sockaddr_in6.self)
                return withUnsafeBytes(of: &sin6.sin6_addr) { $0.allSatisfy { $0 == 0 } }
            default: return false
            }
        }
    }

    /// The host part alone: "127.0.0.1", "::1", or the unix path.
    public var host: String {
        withUnsafeBytes(of: storage) { raw -> String in
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            switch family {
            case AF_INET:
                var a = raw.load(as: sockaddr_in.self).sin_addr
                inet_ntop(AF_INET, &a, &text, socklen_t(text.count))
                return Self.string(text)
            case AF_INET6:
                var a = raw.load(as: sockaddr_in6.self).sin6_addr
                inet_ntop(AF_INET6, &a, &text, socklen_t(text.count))
                return Self.string(text)
            case AF_UNIX:
                let offset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
                let count = Int(length) - offset
                guard count > 0 else { return "" }
                var bytes = Array(raw[offset..<(offset + count)])
                if bytes.first == 0 {
                    bytes[0] = UInt8(ascii: "@")
                } else if let nul = bytes.firstIndex(of: 0) {
                    bytes.removeSubrange(nul...)
                }
                return String(decoding: bytes, as: UTF8.self)
            default:
                return "family \(family)"
            }
        }
    }

    private static func string(_ nulTerminated: [CChar]) -> String {
        String(decoding: nulTerminated.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// "127.0.0.1:80", "[::1]:80", "unix:/run/x.sock".
    public var description: String {
        switch family {
        case AF_INET: return "\(host):\(port ?? 0)"
        case AF_INET6: return "[\(host)]:\(port ?? 0)"
        case AF_UNIX: return "unix:\(host)"
        default: return host
        }
    }

    public static func == (a: SocketAddress, b: SocketAddress) -> Bool {
        guard a.length == b.length else { return false }
        return withUnsafeBytes(of: a.storage) { ra in
            withUnsafeBytes(of: b.storage) { rb in
                memcmp(ra.baseAddress!, rb.baseAddress!, Int(a.length)) == 0
            }
        }
    }

    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes(of: storage) { hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: $0[0..<Int(length)])) }
    }
}
