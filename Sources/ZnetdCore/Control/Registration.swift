public import ZnetdConfig

/// A backend or a route added at run time through the control socket (`znetd register`).
///
/// The same JSON object is the `register` request, the `unregister` request (without the
/// options) and an entry of the persistent registrations file.
public struct Registration: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// One more backend of the service.
        case backend(TargetAddress)
        /// A route on a shared listener to the service (`listeners:`).
        case route(listener: String, host: String?, path: String?)
    }

    public var service: String
    public var kind: Kind
    /// Kept in the state directory and restored when znetd starts again.
    public var persistent: Bool
    /// How long new clients are held once the registration goes, for its owner to come back.
    public var grace: Duration

    public static let defaultGrace: Duration = .seconds(10)
    /// Held clients give up after the start timeout of a plain service.
    public static let maximumGrace: Duration = OnDemand.defaultStartTimeout

    public init(service: String, kind: Kind, persistent: Bool = false, grace: Duration = Registration.defaultGrace) {
        self.service = service
        self.kind = kind
        self.persistent = persistent
        self.grace = grace
    }

    /// What identifies it: service and backend or route, not the options.
    public struct Key: Hashable, Sendable, CustomStringConvertible {
        public var service: String
        public var kind: Kind

        public var description: String {
            switch kind {
            case .backend(let target): return "backend \(target) of service \(service)"
            case .route(let listener, let host, let path):
                return "route \(host ?? "*")\(path ?? "/") on listener \(listener) to service \(service)"
            }
        }
    }

    public var key: Key { Key(service: service, kind: kind) }

    // MARK: JSON

    /// The fields of this registration in a request or in the registrations file.
    public var jsonFields: [(String, JSONValue)] {
        var fields: [(String, JSONValue)] = [("service", .string(service))]
        switch kind {
        case .backend(let target):
            fields.append(("target", .string("\(target)")))
        case .route(let listener, let host, let path):
            fields.append(("listener", .string(listener)))
            if let host { fields.append(("host", .string(host))) }
            if let path { fields.append(("path", .string(path))) }
        }
        fields.append(("persistent", .bool(persistent)))
        fields.append(("grace_ms", .integer(Int64(grace.milliseconds))))
        return fields
    }

    /// Reads the fields of a request or file entry; the error says which field is wrong.
    public init(json: JSONValue) throws(ControlRequestError) {
        guard case .object = json else { throw ControlRequestError("expected a JSON object") }
        guard let service = json["service"]?.stringValue, !service.isEmpty else {
            throw ControlRequestError("\"service\" is required: the service's name")
        }
        self.service = service
        let target = json["target"], listener = json["listener"]
        switch (target, listener) {
        case (let target?, nil):
            guard let text = target.stringValue else { throw ControlRequestError("\"target\" must be a string") }
            do {
                kind = .backend(try parseTargetAddress(text))
            } catch {
                throw ControlRequestError("\"target\": \(error)")
            }
        case (nil, let listener?):
            guard let name = listener.stringValue, !name.isEmpty else { throw ControlRequestError("\"listener\" must be a name") }
            let host = json["host"]?.stringValue, path = json["path"]?.stringValue
            if let path, !path.hasPrefix("/") { throw ControlRequestError("\"path\" must start with '/'; found \"\(path)\"") }
            kind = .route(listener: name, host: host, path: path)
        case (nil, nil):
            throw ControlRequestError("either \"target\" (a backend) or \"listener\" (a route) is required")
        case (_?, _?):
            throw ControlRequestError("\"target\" and \"listener\" exclude each other: register a backend or a route")
        }
        persistent = json["persistent"]?.boolValue ?? false
        if let value = json["grace_ms"] {
            guard let ms = value.intValue, ms >= 0, ms <= Registration.maximumGrace.milliseconds else {
                throw ControlRequestError("\"grace_ms\" must be 0..\(Registration.maximumGrace.milliseconds)")
            }
            grace = .milliseconds(ms)
        } else {
            grace = Registration.defaultGrace
        }
    }
}

/// A request the control socket cannot carry out as written.
public struct ControlRequestError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
