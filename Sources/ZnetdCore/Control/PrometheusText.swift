/// Service statuses (as `StatusReport` writes them) in Prometheus' text exposition format
/// 0.0.4: `# HELP` and `# TYPE` once per metric family, then one sample a line, every sample
/// labelled with its service.
public enum PrometheusText {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(services: [JSONValue], listeners: [JSONValue] = []) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: (JSONValue, String, inout String) -> Void) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for service in services {
                samples(service, labels(["service": service["name"]?.stringValue ?? ""]), &out)
            }
        }
        func integer(_ service: JSONValue, _ key: String) -> String {
            "\(service[key]?.intValue ?? 0)"
        }
        family("znetd_connections_total", "counter", "Connections accepted.") { s, l, out in
            out += "znetd_connections_total\(l) \(integer(s, "connections_total"))\n"
        }
        family("znetd_connections_active", "gauge", "Connections open now.") { s, l, out in
            out += "znetd_connections_active\(l) \(integer(s, "connections_active"))\n"
        }
        family("znetd_bytes_total", "counter", "Bytes relayed by finished connections: in from clients, out to clients.") { s, _, out in
            let name = s["name"]?.stringValue ?? ""
            out += "znetd_bytes_total\(labels(["service": name, "direction": "in"])) \(integer(s, "bytes_in"))\n"
            out += "znetd_bytes_total\(labels(["service": name, "direction": "out"])) \(integer(s, "bytes_out"))\n"
        }
        family("znetd_failed_connects_total", "counter", "Clients closed because no backend could be connected.") { s, l, out in
            out += "znetd_failed_connects_total\(l) \(integer(s, "failed_connects"))\n"
        }
        family("znetd_wakeups_total", "counter", "On-demand backends woken.") { s, l, out in
            out += "znetd_wakeups_total\(l) \(integer(s, "wakeups"))\n"
        }
        family("znetd_wakeup_duration_seconds", "histogram", "Time from the first held client to a ready backend.") { s, _, out in
            let name = s["name"]?.stringValue ?? ""
            let histogram = s["wakeup_histogram"]
            let bounds = histogram?["le"]?.arrayValue ?? []
            let counts = histogram?["counts"]?.arrayValue ?? []
            let count = histogram?["count"]?.intValue ?? 0
            for (bound, value) in zip(bounds, counts) {
                out += "znetd_wakeup_duration_seconds_bucket\(labels(["service": name, "le": number(bound.doubleValue ?? 0)])) \(value.intValue ?? 0)\n"
            }
            out += "znetd_wakeup_duration_seconds_bucket\(labels(["service": name, "le": "+Inf"])) \(count)\n"
            out += "znetd_wakeup_duration_seconds_sum\(labels(["service": name])) \(number(histogram?["sum_seconds"]?.doubleValue ?? 0))\n"
            out += "znetd_wakeup_duration_seconds_count\(labels(["service": name])) \(count)\n"
        }
        family("znetd_backend_up", "gauge", "1 if the backend is up (health checks), else 0.") { s, _, out in
            let name = s["name"]?.stringValue ?? ""
            for backend in s["backends"]?.arrayValue ?? [] {
                let up = backend["up"]?.boolValue == true ? 1 : 0
                out += "znetd_backend_up\(labels(["service": name, "backend": backend["address"]?.stringValue ?? ""])) \(up)\n"
            }
        }
        family("znetd_hold_queue_length", "gauge", "Clients held while the backend wakes (or a registration's grace runs).") { s, l, out in
            out += "znetd_hold_queue_length\(l) \(integer(s, "held"))\n"
        }
        guard !listeners.isEmpty else { return out }
        func listenerFamily(_ name: String, _ type: String, _ help: String, _ sample: (JSONValue, String) -> String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for listener in listeners {
                out += sample(listener, listener["name"]?.stringValue ?? "")
            }
        }
        listenerFamily("znetd_listener_connections_active", "gauge", "Client connections open now on a shared listener.") { l, name in
            "znetd_listener_connections_active\(labels(["listener": name])) \(integer(l, "connections_active"))\n"
        }
        listenerFamily("znetd_listener_connections_total", "counter", "Client connections accepted by a shared listener.") { l, name in
            "znetd_listener_connections_total\(labels(["listener": name])) \(integer(l, "connections_total"))\n"
        }
        listenerFamily("znetd_listener_requests_total", "counter",
                       "Requests (http) or connections (tcp) of a shared listener: routed to a service, or matching no route.") { l, name in
            "znetd_listener_requests_total\(labels(["listener": name, "result": "routed"])) \(integer(l, "routed"))\n"
                + "znetd_listener_requests_total\(labels(["listener": name, "result": "unrouted"])) \(integer(l, "unrouted"))\n"
        }
        return out
    }

    /// `{a="x",b="y"}` in the given key order (service first), values escaped as the format asks.
    static func labels(_ pairs: KeyValuePairs<String, String>) -> String {
        "{" + pairs.map { "\($0.key)=\"\(escape($0.value))\"" }.joined(separator: ",") + "}"
    }

    static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// A float as Prometheus writes it: `0.25`, `1`, `60`.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }
}
