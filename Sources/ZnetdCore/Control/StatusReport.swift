import Glibc
import Synchronization
import ZnetdHTTP

/// One service's state as `znetd status` and the metrics endpoint see it: read from the
/// counters the data plane keeps anyway (atomics bumped once per connection, bytes added when
/// a connection closes) and from the supervisor's bookkeeping, so asking costs the data plane
/// nothing.
enum StatusReport {
    static func service(_ service: ServiceRuntime, supervisor: Supervisor?, registrations: [JSONValue],
                        now: UInt64) -> JSONValue {
        let backends = service.backends.backends
        var fields: [(String, JSONValue)] = [
            ("name", .string(service.name)),
            ("state", .string(state(of: service, supervisor: supervisor, backends: backends))),
            ("launcher", .string(supervisor?.launcherKind ?? "none")),
            ("connections_active", .integer(Int64(service.active.load(ordering: .relaxed)))),
            ("connections_total", .integer(Int64(truncatingIfNeeded: service.accepted.load(ordering: .relaxed)))),
            ("bytes_in", .integer(Int64(truncatingIfNeeded: service.bytesFromClients.load(ordering: .relaxed)))),
            ("bytes_out", .integer(Int64(truncatingIfNeeded: service.bytesToClients.load(ordering: .relaxed)))),
            ("failed_connects", .integer(Int64(truncatingIfNeeded: service.failedConnects.load(ordering: .relaxed)))),
            ("refused_clients", .integer(Int64(truncatingIfNeeded: service.refusedClients.load(ordering: .relaxed)))),
            ("held", .integer(Int64(service.gate.pending))),
            ("wakeups", .integer(Int64(supervisor?.wakeCount ?? 0))),
        ]
        if let wake = supervisor?.lastWake {
            let ago = (now &- wake.at) / 1_000_000
            fields.append(("last_wakeup", .object([
                ("at_unix_ms", .integer(Int64(realtimeMilliseconds()) - Int64(ago))),
                ("duration_ms", .number(Double(wake.microseconds) / 1000)),
            ])))
        } else {
            fields.append(("last_wakeup", .null))
        }
        let histogram = supervisor?.wakeDurations ?? DurationHistogram()
        fields.append(("wakeup_histogram", .object([
            ("le", .array(DurationHistogram.bounds.map { .number($0) })),
            ("counts", .array(histogram.cumulative.map { .integer(Int64($0)) })),
            ("count", .integer(Int64(histogram.count))),
            ("sum_seconds", .number(Double(histogram.sumMicroseconds) / 1_000_000)),
        ])))
        fields.append(("last_error", supervisor?.lastError.map { .string($0) } ?? .null))
        fields.append(("backends", .array(backends.map { backend in
            .object([
                ("address", .string(backend.description)),
                ("up", .bool(backend.isUp)),
                ("health", .string(backend.admission == .draining ? "draining" : backend.isUp ? "up" : "down")),
                ("tier", .integer(Int64(backend.tier))),
                ("weight", .integer(Int64(backend.weight))),
                ("connections_active", .integer(Int64(backend.active.load(ordering: .relaxed)))),
                ("reason", backend.reason.isEmpty ? .null : .string(backend.reason)),
            ])
        })))
        fields.append(("registrations", .array(registrations)))
        return .object(fields)
    }

    /// A shared listener: its mode, its counters and its route table (configured routes, then
    /// those registered at run time).
    static func listener(_ listener: SharedListener) -> JSONValue {
        let config = listener.config
        let (configured, registered) = listener.routesBySource
        func route(_ route: HTTPRouteTable.Route, registered: Bool) -> JSONValue {
            .object([
                ("host", .string(route.host.description)),
                ("path", .string(route.pathPrefix)),
                ("service", .string(route.service)),
                ("registered", .bool(registered)),
            ])
        }
        return .object([
            ("name", .string(listener.name)),
            ("mode", .string(config.mode.rawValue)),
            ("tls", .bool(config.tls != nil)),
            ("connections_active", .integer(Int64(listener.active.load(ordering: .relaxed)))),
            ("connections_total", .integer(Int64(truncatingIfNeeded: listener.accepted.load(ordering: .relaxed)))),
            ("routed", .integer(Int64(truncatingIfNeeded: listener.routed.load(ordering: .relaxed)))),
            ("unrouted", .integer(Int64(truncatingIfNeeded: listener.unrouted.load(ordering: .relaxed)))),
            ("routes", .array(configured.map { route($0, registered: false) } + registered.map { route($0, registered: true) })),
        ])
    }

    /// asleep, waking, ready, stopping, crash-loop (on-demand); holding while a registration's
    /// grace period holds clients; ready or failing (no backend up) for the others.
    private static func state(of service: ServiceRuntime, supervisor: Supervisor?, backends: [Backend]) -> String {
        if let supervisor { return supervisor.stateName }
        if service.holdingForGrace { return "holding" }
        return backends.contains(where: { $0.isUp && $0.admission == .open }) ? "ready" : "failing"
    }

    private static func realtimeMilliseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }
}
