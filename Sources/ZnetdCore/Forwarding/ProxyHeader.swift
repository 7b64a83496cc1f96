import Glibc
import ZnetdConfig

/// The PROXY protocol header (haproxy's proxy-protocol.txt) that tells a backend where the
/// client really connected from: `client` is the client's address, `local` the address it
/// connected to. A client znetd cannot describe (a unix socket) is sent as UNKNOWN (v1) or
/// UNSPEC (v2), which backends take as "use the connection's own addresses".
enum ProxyHeader {
    static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    static func bytes(_ version: ProxyProtocolVersion, client: SocketAddress?, local: SocketAddress?) -> [UInt8] {
        switch version {
        case .v1: v1(client: client, local: local)
        case .v2: v2(client: client, local: local)
        }
    }

    /// `PROXY TCP4 SRC DST SPORT DPORT\r\n`.
    static func v1(client: SocketAddress?, local: SocketAddress?) -> [UInt8] {
        guard let client, let local, client.family == local.family, let sport = client.port, let dport = local.port
        else { return Array("PROXY UNKNOWN\r\n".utf8) }
        let family = client.family == AF_INET ? "TCP4" : "TCP6"
        return Array("PROXY \(family) \(client.host) \(local.host) \(sport) \(dport)\r\n".utf8)
    }

    /// Signature, version 2 / PROXY, family and protocol, length, addresses, ports.
    static func v2(client: SocketAddress?, local: SocketAddress?) -> [UInt8] {
        var header = v2Signature
        header.append(0x21)
        guard let client, let local, client.family == local.family, let source = client.ipBytes,
              let destination = local.ipBytes, let sport = client.port, let dport = local.port
        else {
            header += [0x00, 0x00, 0x00]
            return header
        }
        header.append(client.family == AF_INET ? 0x11 : 0x21)
        let length = source.count * 2 + 4
        header += [UInt8(length >> 8), UInt8(length & 0xFF)]
        header += source + destination
        header += [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF)]
        return header
    }
}
