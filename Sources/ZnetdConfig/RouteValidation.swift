/// What only the whole configuration shows about listeners and routes: names shared by a
/// listener and a service, routes to listeners that do not exist, paths on tcp listeners, the
/// same route written twice, and services a route cannot serve.
///
/// A listener without routes is valid: routes may be registered at run time.
extension ConfigLoader {
    static func routeProblems(_ services: [ServiceDefinition], _ listeners: [ListenerDefinition]) -> [ConfigError] {
        var errors: [ConfigError] = []
        for listener in listeners {
            if let service = services.first(where: { $0.name == listener.name }) {
                errors.append(ConfigError(
                    location: listener.location, keyPath: "listeners".keyPath(appending: listener.name),
                    message: "listener '\(listener.name)' has the name of service '\(service.name)' at \(service.location); "
                        + "listeners and services share one namespace (unit and socket names)"))
            }
        }
        var earlier: [(route: ServiceRoute, service: String, location: SourceLocation)] = []
        for service in services {
            for written in service.routes {
                let route = written.route
                guard let listener = listeners.first(where: { $0.name == route.listener }) else {
                    let known = listeners.map(\.name).sorted()
                    errors.append(ConfigError(
                        location: written.location, keyPath: written.keyPath.keyPath(appending: "listener"),
                        message: "no listener named '\(route.listener)'; "
                            + (known.isEmpty ? "define it under listeners:" : "listeners: \(known.joined(separator: ", "))")))
                    continue
                }
                if listener.mode == .tcp, route.path != nil {
                    errors.append(ConfigError(
                        location: written.pathLocation ?? written.location, keyPath: written.keyPath.keyPath(appending: "path"),
                        message: "listener '\(listener.name)' is a tcp listener, which routes by TLS server name only; "
                            + "remove 'path' or use an http listener"))
                }
                if listener.mode == .http, case .program? = service.target {
                    errors.append(ConfigError(
                        location: written.location, keyPath: written.keyPath,
                        message: "an exec: target cannot be reached through http listener '\(listener.name)'; "
                            + "give the service a target address"))
                }
                let key = ServiceRoute(listener: route.listener, host: route.host, path: route.path ?? "/")
                if let other = earlier.first(where: { $0.route == key }) {
                    errors.append(ConfigError(
                        location: written.location, keyPath: written.keyPath,
                        message: "route '\(key)' is also a route of service '\(other.service)' at \(other.location); "
                            + "each host and path of a listener goes to one service"))
                }
                earlier.append((key, service.name, written.location))
            }
            if !service.routes.isEmpty, let handOff = service.settings.onDemand.written["hand_off"],
               case .scalar(let text, _) = handOff.value.content, parseBoolean(text) == true {
                errors.append(ConfigError(
                    location: handOff.keyNode.location, keyPath: handOff.path,
                    message: "hand_off cannot be used with 'routes': the backend cannot accept from a shared listener"))
            }
        }
        return errors
    }
}
