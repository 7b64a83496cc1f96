import Testing

@testable import ZnetdCore

@Test func proxyHeaderV1() {
    let client = SocketAddress(ip: "192.0.2.7", port: 40000)
    let local = SocketAddress(ip: "198.51.100.1", port: 443)
    #expect(String(decoding: ProxyHeader.v1(client: client, local: local), as: UTF8.self)
        == "PROXY TCP4 192.0.2.7 198.51.100.1 40000 443\r\n")
    let client6 = SocketAddress(ip: "2001:db8::1", port: 1)
    let local6 = SocketAddress(ip: "::1", port: 2)
    #expect(String(decoding: ProxyHeader.v1(client: client6, local: local6), as: UTF8.self)
        == "PROXY TCP6 2001:db8::1 ::1 1 2\r\n")
    #expect(String(decoding: ProxyHeader.v1(client: nil, local: local), as: UTF8.self) == "PROXY UNKNOWN\r\n")
}

@Test func proxyHeaderV2() {
    let header = ProxyHeader.v2(client: SocketAddress(ip: "192.0.2.7", port: 0x1234),
                                local: SocketAddress(ip: "10.0.0.1", port: 80))
    #expect(header == ProxyHeader.v2Signature + [0x21, 0x11, 0x00, 0x0C, 192, 0, 2, 7, 10, 0, 0, 1, 0x12, 0x34, 0x00, 0x50])
    let v6 = ProxyHeader.v2(client: SocketAddress(ip: "::1", port: 1), local: SocketAddress(ip: "::2", port: 2))
    #expect(v6.count == 16 + 36)
    #expect(Array(v6[12...15]) == [0x21, 0x21, 0x00, 36])
    #expect(ProxyHeader.v2(client: nil, local: nil) == ProxyHeader.v2Signature + [0x21, 0x00, 0x00, 0x00])
}
