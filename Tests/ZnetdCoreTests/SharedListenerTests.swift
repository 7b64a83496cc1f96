import Logging
import Testing
import ZnetdConfig
@testable import ZnetdCore
import ZnetdHTTP

/// The route table of a shared listener: configured routes, routes added at run time (the
/// control socket's `register`), and reloads that replace the first and keep the second.
struct SharedListenerTests {
    let configuration = try! ConfigLoader.parse(yaml: """
        listeners:
          web: {listen: "127.0.0.1:8080"}
          sni: {listen: "127.0.0.1:8443", mode: tcp}
        services:
          blog:
            routes: [{listener: web, host: blog.example.com}, {listener: sni, host: "*.example.com"}]
            target: "127.0.0.1:9001"
          api:
            routes: [{listener: web, path: /api}]
            target: "127.0.0.1:9002"
        """, file: "test.yaml")

    func listener(_ name: String = "web") -> SharedListener {
        SharedListener(config: configuration.listener(named: name)!,
                       routes: SharedListener.configuredRoutes(of: name, in: configuration),
                       directory: ServiceDirectory(), logger: Logger(label: "test"))
    }

    func route(_ host: String, _ path: String = "/", _ service: String) -> HTTPRouteTable.Route {
        HTTPRouteTable.Route(host: HTTPRouteTable.HostPattern(host)!, pathPrefix: path, service: service)
    }

    @Test func configuredRoutesOfEachListener() {
        let web = listener()
        #expect(web.routeTable.service(host: "blog.example.com", path: "/x") == "blog")
        #expect(web.routeTable.service(host: "other.test", path: "/api/v1") == "api")
        #expect(web.routeTable.service(host: "other.test", path: "/") == nil)
        let sni = listener("sni")
        #expect(sni.routeTable.service(host: "mail.example.com", path: "/") == "blog")
        #expect(sni.routes.count == 1)
    }

    @Test func routesAddedAtRunTimeApplyAtOnceAndCanBeRemoved() {
        let web = listener()
        #expect(web.addRoute(route("shop.test", "/", "shop")))
        #expect(web.routeTable.service(host: "shop.test", path: "/cart") == "shop")
        // The same host and path cannot go to two services.
        #expect(!web.addRoute(route("shop.test", "/", "other")))
        #expect(!web.addRoute(route("*", "/api", "other")))
        #expect(web.removeRoute(route("shop.test", "/", "shop")))
        #expect(!web.removeRoute(route("shop.test", "/", "shop")))
        #expect(web.routeTable.service(host: "shop.test", path: "/cart") == nil)
        // Configured routes are not removed this way.
        #expect(!web.removeRoute(route("*", "/api", "api")))
    }

    @Test func aReloadReplacesConfiguredRoutesAndKeepsRegisteredOnes() {
        let web = listener()
        web.addRoute(route("shop.test", "/", "shop"))
        web.update(config: configuration.listener(named: "web")!, routes: [route("blog.example.com", "/", "api")])
        #expect(web.routeTable.service(host: "blog.example.com", path: "/") == "api")
        #expect(web.routeTable.service(host: "other.test", path: "/api") == nil)
        #expect(web.routeTable.service(host: "shop.test", path: "/") == "shop")
    }

    @Test func directoryFindsServicesByName() {
        let directory = ServiceDirectory()
        let service = ServiceRuntime(config: configuration.service(named: "api")!, logger: Logger(label: "test"))
        directory.set(service)
        #expect(directory.service(named: "api") === service)
        directory.remove(named: "api")
        #expect(directory.service(named: "api") == nil)
    }
}
