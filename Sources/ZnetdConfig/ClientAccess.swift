import Glibc

/// Which clients a service accepts: `allow:` and `deny:` lists of addresses, prefixes and
/// keywords, with the rule of systemd's IPAddressAllow=/IPAddressDeny=: a client matching
/// `allow` is accepted; otherwise one matching `deny` is refused; anyone else is accepted.
///
/// The generator writes the lists into the `.socket` unit, where the kernel drops refused
/// clients' packets; znetd checks them again at accept(), which also covers sockets it binds
/// itself and sockets handed over without those filters.
public struct ClientAccess: Sendable, Hashable {
    public var allow: [AddressPattern]
    public var deny: [AddressPattern]

    public init(allow: [AddressPattern] = [], deny: [AddressPattern] = []) {
        self.allow = allow
        self.deny = deny
    }

    /// No lists: everyone is accepted (and nothing is checked).
    public var isEmpty: Bool { allow.isEmpty && deny.isEmpty }

    /// Whether a client at `address` (4 or 16 bytes; an IPv4-mapped IPv6 address counts as the
    /// IPv4 address) may connect.
    public func admits(_ address: [UInt8]) -> Bool {
        let address = IPPrefix.unmapped(address)
        if allow.contains(where: { $0.matches(address) }) { return true }
        return !deny.contains { $0.matches(address) }
    }
}

/// One entry of `allow:` or `deny:`: an IP address, an `ADDRESS/PREFIXLENGTH` network, or one of
/// systemd's keywords `any`, `localhost`, `link-local` and `multicast`.
public struct AddressPattern: Sendable, Hashable, CustomStringConvertible {
    /// The canonical text (a keyword, or the network with its host bits cleared): what the
    /// printer writes and the generator puts into IPAddressAllow=/IPAddressDeny=.
    public var description: String
    public var prefixes: [IPPrefix]

    static let keywords: [(name: String, prefixes: [String])] = [
        ("any", ["0.0.0.0/0", "::/0"]),
        ("localhost", ["127.0.0.0/8", "::1/128"]),
        ("link-local", ["169.254.0.0/16", "fe80::/64"]),
        ("multicast", ["224.0.0.0/4", "ff00::/8"]),
    ]

    /// Parses one pattern; `nil` when it is none of the forms.
    public init?(_ text: String) {
        if let keyword = Self.keywords.first(where: { $0.name == text }) {
            description = text
            prefixes = keyword.prefixes.compactMap(IPPrefix.init)
            return
        }
        guard let prefix = IPPrefix(text) else { return nil }
        description = prefix.description
        prefixes = [prefix]
    }

    func matches(_ address: [UInt8]) -> Bool {
        prefixes.contains { $0.contains(address) }
    }
}

/// An IPv4 or IPv6 network: address bytes with the bits past `length` cleared.
public struct IPPrefix: Sendable, Hashable, CustomStringConvertible {
    public var bytes: [UInt8]
    public var length: Int

    /// `ADDRESS` (a /32 or /128) or `ADDRESS/LENGTH`.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = ipBytes(String(parts[0])) else { return nil }
        let maximum = bytes.count * 8
        var length = maximum
        if parts.count == 2 {
            guard let written = Int(parts[1]), (0...maximum).contains(written),
                parts[1].allSatisfy({ $0.isASCII && $0.isNumber })
            else { return nil }
            length = written
        }
        self.bytes = bytes.enumerated().map { index, byte in
            let bitsKept = max(0, min(8, length - index * 8))
            return bitsKept == 8 ? byte : byte & ~(UInt8(0xFF) >> bitsKept)
        }
        self.length = length
    }

    public func contains(_ address: [UInt8]) -> Bool {
        guard address.count == bytes.count else { return false }
        var remaining = length
        for index in bytes.indices where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(0xFF) << (8 - bits)
            if address[index] & mask != bytes[index] { return false }
            remaining -= bits
        }
        return true
    }

    public var description: String {
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let text = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
                ? buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } : "?"
        }
        return length == bytes.count * 8 ? text : "\(text)/\(length)"
    }

    /// `::ffff:a.b.c.d` as the 4 bytes of a.b.c.d; anything else unchanged.
    static func unmapped(_ address: [UInt8]) -> [UInt8] {
        guard address.count == 16, address[0..<10].allSatisfy({ $0 == 0 }), address[10] == 0xFF, address[11] == 0xFF
        else { return address }
        return Array(address[12..<16])
    }
}

/// The 4 or 16 bytes of an IP literal.
private func ipBytes(_ text: String) -> [UInt8]? {
    var v4 = in_addr()
    if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
    var v6 = in6_addr()
    if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
    return nil
}
