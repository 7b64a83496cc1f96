import Glibc

/// Why a listen or target address was rejected. The message says what is wrong and, where it
/// can, what to write instead.
public struct AddressError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Parses where a service listens: `HOST:PORT`, `:PORT` (every address), `[IPV6]:PORT`,
/// `unix:/PATH`, `unix:@NAME` (abstract) or `interface:NAME:PORT`.
///
/// The host must be an IP literal (sockets are bound before any resolver is trusted); `localhost`
/// is taken as `127.0.0.1`. IP literals are stored in their canonical form (`[0::1]` becomes
/// `::1`) so that equal addresses compare equal.
public func parseListenAddress(_ text: String) throws(AddressError) -> ListenAddress {
    if text.hasPrefix("unix:") {
        return .unix(path: try parseUnixPath(text.dropFirst("unix:".count)))
    }
    if text.hasPrefix("interface:") {
        return try parseInterfaceAddress(text)
    }
    let (host, port) = try splitHostPort(text, forms: "HOST:PORT, [IPV6]:PORT, :PORT, unix:/PATH or interface:NAME:PORT")
    if host.isEmpty { return .inet(host: nil, port: port) }
    if host.lowercased() == "localhost" { return .inet(host: "127.0.0.1", port: port) }
    if let address = canonicalIP(host) { return .inet(host: address, port: port) }
    if let problem = ipv4Problem(host) { throw AddressError(problem) }
    if hostnameProblem(host) != nil {
        throw AddressError("listen addresses must be IP literals; found '\(host)'")
    }
    throw AddressError("listen addresses must be IP literals; found hostname '\(host)'")
}

/// Parses where a service sends its connections: `HOST:PORT`, `[IPV6]:PORT`, `unix:/PATH` or
/// `unix:@NAME`.
///
/// The host is an IP literal (stored in canonical form) or a hostname, kept as written and
/// resolved when connecting.
public func parseTargetAddress(_ text: String) throws(AddressError) -> TargetAddress {
    if text.hasPrefix("unix:") {
        return .unix(path: try parseUnixPath(text.dropFirst("unix:".count)))
    }
    let (host, port) = try splitHostPort(text, forms: "HOST:PORT, [IPV6]:PORT or unix:/PATH")
    if host.isEmpty {
        throw AddressError("a target needs a host, such as 127.0.0.1:\(port); found '\(text)'")
    }
    if let address = canonicalIP(host) { return .inet(host: address, port: port) }
    if let problem = ipv4Problem(host) ?? hostnameProblem(host) { throw AddressError(problem) }
    return .inet(host: host, port: port)
}

extension ListenAddress: CustomStringConvertible {
    /// The canonical text form, which ``parseListenAddress(_:)`` reads back:
    /// `127.0.0.1:80`, `:80`, `[::1]:80`, `unix:/run/x.sock`, `interface:eth0:80`.
    public var description: String {
        switch self {
        case .inet(nil, let port): ":\(port)"
        case .inet(let host?, let port): "\(bracketed(host)):\(port)"
        case .unix(let path): "unix:\(path)"
        case .interface(let name, let port): "interface:\(name):\(port)"
        }
    }
}

extension TargetAddress: CustomStringConvertible {
    /// The canonical text form, which ``parseTargetAddress(_:)`` reads back:
    /// `127.0.0.1:80`, `[::1]:80`, `backend.internal:80`, `unix:/run/x.sock`.
    public var description: String {
        switch self {
        case .inet(let host, let port): "\(bracketed(host)):\(port)"
        case .unix(let path): "unix:\(path)"
        case .program(let argv): "exec:" + argv.joined(separator: " ")
        }
    }
}

/// A `target:`: an address (``parseTargetAddress(_:)``), or `exec:` and an absolute program path
/// with arguments separated by spaces.
public func parseTargetOrProgram(_ text: String) throws(AddressError) -> TargetAddress {
    guard text.hasPrefix("exec:") else { return try parseTargetAddress(text) }
    let argv = text.dropFirst("exec:".count).split(separator: " ").map(String.init)
    guard let program = argv.first, program.hasPrefix("/"), !text.contains("\0") else {
        throw AddressError("expected exec: and an absolute program path, such as exec:/usr/local/bin/route; found '\(text)'")
    }
    return .program(argv)
}

/// IPv6 literals in brackets, anything else as is.
private func bracketed(_ host: String) -> String {
    host.contains(":") ? "[\(host)]" : host
}

/// Splits `HOST:PORT`, `[IPV6]:PORT` or `:PORT`; the host comes back without brackets and may be
/// empty. `forms` lists the accepted forms for the message when there is no port at all.
private func splitHostPort(_ text: String, forms: String) throws(AddressError) -> (host: String, port: UInt16) {
    if text.hasPrefix("[") {
        guard let close = text.firstIndex(of: "]") else {
            throw AddressError("missing ']' after the IPv6 address in '\(text)'")
        }
        let host = String(text[text.index(after: text.startIndex)..<close])
        let rest = text[text.index(after: close)...]
        guard rest.first == ":" else {
            throw AddressError("expected ':PORT' after ']' in '\(text)'")
        }
        guard let address = canonicalIPv6(host) else {
            if canonicalIPv4(host) != nil {
                throw AddressError("'\(host)' is an IPv4 address; write it without brackets")
            }
            throw AddressError("'\(host)' is not an IPv6 address")
        }
        return (address, try parsePort(rest.dropFirst(), in: text))
    }
    guard let colon = text.lastIndex(of: ":") else {
        if !text.isEmpty, text.utf8.allSatisfy(isASCIIDigit) {
            throw AddressError("missing ':' before the port; write ':\(text)' for every address or HOST:\(text)")
        }
        throw AddressError("expected \(forms); found '\(text)'")
    }
    let host = String(text[..<colon])
    if host.contains(":") {
        if canonicalIPv6(host) != nil {
            throw AddressError("IPv6 addresses need brackets; write '[\(host)]:\(text[text.index(after: colon)...])'")
        }
        if canonicalIPv6(text) != nil {
            throw AddressError("missing port; write '[\(text)]:PORT'")
        }
        throw AddressError("expected \(forms); found '\(text)'")
    }
    return (host, try parsePort(text[text.index(after: colon)...], in: text))
}

private func parsePort(_ text: Substring, in address: String) throws(AddressError) -> UInt16 {
    if text.isEmpty {
        throw AddressError("missing port after ':' in '\(address)'")
    }
    guard text.utf8.allSatisfy(isASCIIDigit), let port = UInt16(text), port > 0 else {
        throw AddressError("port must be a number from 1 to 65535; found '\(text)'")
    }
    return port
}

/// 0-9: the characters that are both ASCII and numbers, tested on bytes (Character properties
/// are Unicode table lookups, measurable in the generator's run).
private func isASCIIDigit(_ byte: UInt8) -> Bool {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
}

/// `sun_path` holds 108 bytes including the terminating NUL (or the leading NUL of an abstract name).
private let maximumUnixPathBytes = 107

/// The part after `unix:`: an absolute path, or `@NAME` for the abstract namespace.
private func parseUnixPath(_ path: Substring) throws(AddressError) -> String {
    guard path.hasPrefix("/") || path.hasPrefix("@") else {
        throw AddressError(
            "unix socket path must be absolute (start with '/') or abstract (start with '@'); found '\(path)'")
    }
    if path == "@" {
        throw AddressError("abstract socket name after '@' is empty")
    }
    if path.utf8.contains(0) {
        throw AddressError("unix socket path must not contain NUL characters")
    }
    if path.utf8.count > maximumUnixPathBytes {
        throw AddressError(
            "unix socket path is \(path.utf8.count) bytes long; the limit is \(maximumUnixPathBytes)")
    }
    return String(path)
}

/// Interface names hold at most IFNAMSIZ - 1 bytes.
private let maximumInterfaceNameBytes = 15

/// `interface:NAME:PORT`.
private func parseInterfaceAddress(_ text: String) throws(AddressError) -> ListenAddress {
    let rest = text.dropFirst("interface:".count)
    guard let colon = rest.lastIndex(of: ":") else {
        throw AddressError("expected interface:NAME:PORT; found '\(text)'")
    }
    let name = String(rest[..<colon])
    if name.isEmpty {
        throw AddressError("interface name is empty; expected interface:NAME:PORT")
    }
    if name.utf8.count > maximumInterfaceNameBytes {
        throw AddressError("interface name '\(name)' is longer than \(maximumInterfaceNameBytes) bytes")
    }
    if name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) {
        throw AddressError("interface name '\(name)' must not contain '/', ':' or whitespace")
    }
    return .interface(name: name, port: try parsePort(rest[rest.index(after: colon)...], in: text))
}

/// The canonical text of an IPv4 or IPv6 literal, or `nil` when `text` is neither.
private func canonicalIP(_ text: String) -> String? {
    canonicalIPv4(text) ?? canonicalIPv6(text)
}

private func canonicalIPv4(_ text: String) -> String? {
    var address = in_addr()
    guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
    return presentation(AF_INET, &address, size: INET_ADDRSTRLEN)
}

private func canonicalIPv6(_ text: String) -> String? {
    var address = in6_addr()
    guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
    return presentation(AF_INET6, &address, size: INET6_ADDRSTRLEN)
}

private func presentation(_ family: Int32, _ address: UnsafeRawPointer, size: Int32) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(size))
    guard inet_ntop(family, address, &buffer, socklen_t(size)) != nil else { return nil }
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

/// A message when `host` is only digits and dots (so meant as an IPv4 address) but not a valid one.
private func ipv4Problem(_ host: String) -> String? {
    guard host.allSatisfy({ $0 == "." || ($0.isASCII && $0.isNumber) }) else { return nil }
    return "'\(host)' is not a valid IPv4 address"
}

/// A message when `host` is not a valid hostname (RFC 1123: labels of letters, digits and
/// hyphens, not starting or ending with a hyphen, at most 63 bytes each, 253 in all).
private func hostnameProblem(_ host: String) -> String? {
    let name = host.hasSuffix(".") ? host.dropLast() : Substring(host)
    if name.utf8.count > 253 {
        return "hostname '\(host)' is longer than 253 characters"
    }
    for label in name.split(separator: ".", omittingEmptySubsequences: false) {
        if label.isEmpty {
            return "hostname '\(host)' has an empty label (two dots in a row, or a leading dot)"
        }
        if label.utf8.count > 63 {
            return "hostname '\(host)' has a label longer than 63 characters"
        }
        if !label.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) {
            return "'\(host)' is not a valid hostname: use letters, digits, '-' and '.'"
        }
        if label.hasPrefix("-") || label.hasSuffix("-") {
            return "hostname '\(host)' has a label starting or ending with '-'"
        }
    }
    return nil
}
