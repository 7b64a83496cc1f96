import Glibc
import Logging
import Testing
import ZnetdConfig

@testable import ZnetdCore

/// Stands in for the shared listeners' route table.
private final class RecordingRoutes: RouteRegistry {
    var added: [String] = []
    var removed: [String] = []

    func addRoute(listener: String, host: String?, path: String?, service: String) -> String? {
        guard listener == "web" else { return "no listener '\(listener)'" }
        added.append("\(listener) \(host ?? "*")\(path ?? "/") -> \(service)")
        return nil
    }

    func removeRoute(listener: String, host: String?, path: String?, service: String) {
        removed.append("\(listener) \(host ?? "*")\(path ?? "/") -> \(service)")
    }
}

@Test func routeRegistrationsGoThroughTheRouteRegistry() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        services:
          blog:
            listen: 127.0.0.1:1
            target: 127.0.0.1:2
        """, file: "test.yaml")
    let logger = Logger(label: "test")
    let daemon = try Daemon(configuration: configuration, threads: 1, logger: logger) { () throws(ConfigErrors) in configuration }
    let plane = ControlPlane(daemon: daemon, options: ControlPlane.Options(), logger: logger)
    var fds: [Int32] = [-1, -1]
    #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
    defer { Glibc.close(fds[1]) }
    let connection = ControlConnection(fd: fds[0], loop: daemon.control, peer: PeerCredentials(pid: 1, uid: 0, gid: 0),
                                       handler: plane)
    let route = #"{"command": "register", "service": "blog", "listener": "web", "host": "blog.example.com", "path": "/blog"}"#

    // Without shared listeners, a route is refused with a reason.
    let refused = plane.handle(try JSONParser.parse(route), from: connection)
    #expect(refused["error"]?.stringValue?.contains("serves no shared listener") == true)

    let routes = RecordingRoutes()
    plane.routes = routes
    let reply = plane.handle(try JSONParser.parse(route), from: connection)
    #expect(reply["ok"] == .bool(true))
    #expect(routes.added == ["web blog.example.com/blog -> blog"])
    // Registering it again renews it; the table is not asked twice.
    _ = plane.handle(try JSONParser.parse(route), from: connection)
    #expect(routes.added.count == 1)
    let wrongListener = plane.handle(try JSONParser.parse(
        #"{"command": "register", "service": "blog", "listener": "api"}"#), from: connection)
    #expect(wrongListener["error"] == .string("no listener 'api'"))
    #expect(plane.registrationsJSON(of: "blog").count == 1)

    let gone = plane.handle(try JSONParser.parse(
        #"{"command": "unregister", "service": "blog", "listener": "web", "host": "blog.example.com", "path": "/blog", "now": true}"#),
        from: connection)
    #expect(gone["ok"] == .bool(true))
    #expect(routes.removed == ["web blog.example.com/blog -> blog"])
    #expect(plane.registrationsJSON(of: "blog").isEmpty)

    // A peer that may only read is refused a change.
    let reader = ControlConnection(fd: dup(fds[1]), loop: daemon.control,
                                   peer: PeerCredentials(pid: 2, uid: 4242, gid: 4242), handler: plane)
    let denied = plane.handle(try JSONParser.parse(route), from: reader)
    #expect(denied["error"]?.stringValue?.hasPrefix("permission denied: uid 4242") == true)
}
