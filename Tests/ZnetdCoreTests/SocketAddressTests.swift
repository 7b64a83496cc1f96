import Glibc
import Testing
@testable import ZnetdCore

struct SocketAddressTests {
    @Test func formatsEachFamily() {
        #expect(SocketAddress(ip: "127.0.0.1", port: 80)?.description == "127.0.0.1:80")
        #expect(SocketAddress(ip: "::1", port: 8080)?.description == "[::1]:8080")
        #expect(SocketAddress(unixPath: "/run/znetd.sock")?.description == "unix:/run/znetd.sock")
        #expect(SocketAddress(unixPath: "@znetd")?.description == "unix:@znetd")
    }

    @Test func rejectsNonLiteralsAndOverlongPaths() {
        #expect(SocketAddress(ip: "localhost", port: 80) == nil)
        #expect(SocketAddress(ip: "300.1.1.1", port: 80) == nil)
        #expect(SocketAddress(unixPath: "/" + String(repeating: "x", count: 120)) == nil)
    }

    @Test func wildcardAndPort() {
        #expect(SocketAddress(ip: "0.0.0.0", port: 1)!.isWildcard)
        #expect(SocketAddress(ip: "::", port: 1)!.isWildcard)
        #expect(!SocketAddress(ip: "::1", port: 1)!.isWildcard)
        #expect(SocketAddress(ip: "10.0.0.1", port: 443)!.port == 443)
        #expect(SocketAddress(ip: "10.0.0.1", port: 443)!.withPort(80).description == "10.0.0.1:80")
        #expect(SocketAddress(unixPath: "/x")!.port == nil)
    }

    @Test func readsBackWhatTheKernelBound() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        let any = SocketAddress(ip: "127.0.0.1", port: 0)!
        #expect(any.withSockaddr { bind(fd, $0, $1) } == 0)
        let bound = try #require(SocketAddress.local(of: fd))
        #expect(bound.host == "127.0.0.1")
        #expect((bound.port ?? 0) > 0)
    }

    @Test func equalityComparesTheAddressNotTheText() {
        #expect(SocketAddress(ip: "::1", port: 80) == SocketAddress(ip: "0:0:0:0:0:0:0:1", port: 80))
        #expect(SocketAddress(ip: "::1", port: 80) != SocketAddress(ip: "::1", port: 81))
    }
}
