import Glibc
import Testing
import ZnetdConfig
@testable import ZnetdCore

/// Inherited sockets are matched by name first, then by address, never by position.
struct SocketMatcherTests {
    func inherited(_ fd: Int32, _ name: String, _ address: String, _ port: UInt16) -> InheritedSocket {
        InheritedSocket(fd: fd, name: name, bound: SocketAddress(ip: address, port: port))
    }

    let web = ServiceConfig(name: "web", listen: [.inet(host: "127.0.0.1", port: 8080)], target: .inet(host: "127.0.0.1", port: 9000))
    let api = ServiceConfig(name: "api", listen: [.inet(host: nil, port: 8081), .inet(host: "::1", port: 8082)],
                            target: .inet(host: "127.0.0.1", port: 9001))

    @Test func namesDecideRegardlessOfOrder() {
        let result = SocketMatcher.match([web, api], [
            inherited(3, "api", "::1", 8082), inherited(4, "web", "127.0.0.1", 8080), inherited(5, "api", "::", 8081),
        ])
        #expect(result.unmatched.isEmpty)
        #expect(result.missing.isEmpty)
        let pairs = result.assignments.map { "\($0.socket.fd)=\($0.service):\($0.address)" }.sorted()
        #expect(pairs == ["3=api:\(ListenAddress.inet(host: "::1", port: 8082))",
                          "4=web:\(ListenAddress.inet(host: "127.0.0.1", port: 8080))",
                          "5=api:\(ListenAddress.inet(host: nil, port: 8081))"])
    }

    @Test func singleAddressServiceTakesItsNamedSocketWhateverItIsBoundTo() {
        let result = SocketMatcher.match([web], [inherited(3, "web", "0.0.0.0", 9999)])
        #expect(result.assignments.map(\.service) == ["web"])
        #expect(result.unmatched.isEmpty)
    }

    @Test func unnamedSocketsMatchByAddress() {
        let result = SocketMatcher.match([web, api], [
            inherited(3, "znetd.socket", "127.0.0.1", 8080), inherited(4, "znetd.socket", "0.0.0.0", 8081),
            inherited(5, "stored", "::1", 8082),
        ])
        #expect(result.unmatched.isEmpty)
        #expect(result.missing.isEmpty)
        #expect(Set(result.assignments.map { "\($0.socket.fd)=\($0.service)" }) == ["3=web", "4=api", "5=api"])
    }

    @Test func leftoversOnBothSidesAreReported() {
        let result = SocketMatcher.match([web, api], [inherited(3, "other", "127.0.0.1", 7000), inherited(4, "web", "127.0.0.1", 8080)])
        #expect(result.unmatched.map(\.fd) == [3])
        #expect(result.missing.map(\.service) == ["api", "api"])
    }

    @Test func namedSocketOnAnUnlistedAddressOfAMultiAddressServiceIsUnmatched() {
        let result = SocketMatcher.match([api], [inherited(3, "api", "127.0.0.1", 7000)])
        #expect(result.unmatched.map(\.fd) == [3])
        #expect(result.missing.count == 2)
    }

    @Test func wildcardListenNeedsAWildcardSocket() {
        #expect(SocketMatcher.bound(SocketAddress(ip: "::", port: 80), serves: .inet(host: nil, port: 80)))
        #expect(SocketMatcher.bound(SocketAddress(ip: "0.0.0.0", port: 80), serves: .inet(host: nil, port: 80)))
        #expect(!SocketMatcher.bound(SocketAddress(ip: "127.0.0.1", port: 80), serves: .inet(host: nil, port: 80)))
        #expect(!SocketMatcher.bound(SocketAddress(ip: "::", port: 81), serves: .inet(host: nil, port: 80)))
        #expect(SocketMatcher.bound(SocketAddress(unixPath: "/run/x.sock"), serves: .unix(path: "/run/x.sock")))
        #expect(!SocketMatcher.bound(SocketAddress(unixPath: "/run/y.sock"), serves: .unix(path: "/run/x.sock")))
    }
}
