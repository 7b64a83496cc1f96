import Testing
import ZnetdConfig

@testable import ZnetdCore

@Test func registrationRoundTripsThroughJSON() throws {
    let backend = Registration(service: "app", kind: .backend(.inet(host: "127.0.0.1", port: 9000)),
                               persistent: true, grace: .seconds(3))
    #expect(try Registration(json: .object(backend.jsonFields)) == backend)
    let route = Registration(service: "blog", kind: .route(listener: "web", host: "blog.example.com", path: "/blog"))
    let parsed = try Registration(json: JSONParser.parse(JSONValue.object(route.jsonFields).encoded))
    #expect(parsed == route)
    #expect(parsed.grace == Registration.defaultGrace)
}

@Test(arguments: [
    (#"{"target": "127.0.0.1:1"}"#, "\"service\" is required"),
    (#"{"service": "a"}"#, "either \"target\" (a backend) or \"listener\" (a route) is required"),
    (#"{"service": "a", "target": "127.0.0.1:1", "listener": "web"}"#, "exclude each other"),
    (#"{"service": "a", "target": "nowhere"}"#, "\"target\": "),
    (#"{"service": "a", "target": 5}"#, "\"target\" must be a string"),
    (#"{"service": "a", "listener": "web", "path": "blog"}"#, "\"path\" must start with '/'"),
    (#"{"service": "a", "target": "127.0.0.1:1", "grace_ms": 30001}"#, "\"grace_ms\" must be 0..30000"),
    (#"{"service": "a", "target": "127.0.0.1:1", "grace_ms": -1}"#, "\"grace_ms\" must be 0..30000"),
])
func registrationRejects(json: String, message: String) throws {
    let value = try JSONParser.parse(json)
    #expect {
        _ = try Registration(json: value)
    } throws: { error in
        "\(error)".contains(message)
    }
}

@Test func controlAccessSeparatesReadersFromChangers() {
    let access = ControlAccess(ownerUID: 990, readerGroup: 4, changers: [1001])
    let root = PeerCredentials(pid: 1, uid: 0, gid: 0)
    let owner = PeerCredentials(pid: 2, uid: 990, gid: 990)
    let member = PeerCredentials(pid: 3, uid: 1000, gid: 1000, groups: [27, 4])
    let changer = PeerCredentials(pid: 4, uid: 1001, gid: 1001)
    let stranger = PeerCredentials(pid: 5, uid: 65534, gid: 65534)
    for peer in [root, owner, changer] {
        #expect(access.allows(peer, .read) && access.allows(peer, .change))
    }
    #expect(access.allows(member, .read))
    #expect(!access.allows(member, .change))
    #expect(!access.allows(stranger, .read))
    #expect(access.refusal(member, .change).contains("uid 1000 may not change registrations"))
    #expect(access.refusal(stranger, .read).contains("members of group 4"))
    #expect(!ControlAccess(ownerUID: 990).allows(member, .read))
}

@Test func registrationBookTracksOwnersAndGrace() {
    var book = RegistrationBook()
    let owner = ObjectIdentifier(NSObjectLike())
    let a = Registration(service: "app", kind: .backend(.inet(host: "127.0.0.1", port: 1)))
    let b = Registration(service: "app", kind: .backend(.inet(host: "127.0.0.1", port: 2)))
    let addedA = book.add(a, owner: owner), addedB = book.add(b, owner: nil)
    #expect(!addedA && !addedB)
    #expect(book.owned(by: owner) == [a.key])
    book.startGrace(a.key)
    #expect(book.owned(by: owner).isEmpty)
    #expect(book.hasGrace(of: "app"))
    #expect(book.live(of: "app").map(\.registration) == [b])
    // Coming back within the grace period ends it.
    let endedGrace = book.add(a, owner: nil)
    #expect(endedGrace)
    #expect(!book.hasGrace(of: "app"))
    let removed = book.remove(b.key)
    #expect(removed?.registration == b)
    #expect(book.all(of: "app").count == 1)
    #expect(book.all(of: "other").isEmpty)
}

private final class NSObjectLike {}

@Test func durationHistogramIsCumulative() {
    var histogram = DurationHistogram()
    histogram.record(microseconds: 5_000)  // 5 ms
    histogram.record(microseconds: 300_000)  // 0.3 s
    histogram.record(microseconds: 90_000_000)  // beyond the last bound
    #expect(histogram.count == 3)
    #expect(histogram.cumulative.first == 1)
    #expect(histogram.cumulative[DurationHistogram.bounds.firstIndex(of: 0.5)!] == 2)
    #expect(histogram.cumulative.last == 2)
    #expect(histogram.sumMicroseconds == 90_305_000)
}
