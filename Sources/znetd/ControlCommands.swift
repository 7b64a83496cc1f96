import ArgumentParser
import Glibc
import ZnetdConfig
import ZnetdCore

/// `--control-socket`, shared by the commands that talk to a running znetd.
struct ControlSocketOptions: ParsableArguments {
    @Option(name: .customLong("control-socket"),
            help: ArgumentHelp("A znetd control socket (repeatable; default: every /run/znetd/control/*/control.sock).",
                               valueName: "path"))
    var paths: [String] = []

    /// The sockets to ask, or exit 1 with a message when there are none.
    func sockets() throws -> [String] {
        let found = paths.isEmpty ? ControlClient.discoverSockets() : paths
        guard !found.isEmpty else {
            printError("no znetd control socket found in \(ControlClient.runtimeDirectory) (is znetd running? pass --control-socket PATH)")
            throw ExitCode(1)
        }
        return found
    }

    static func connect(_ path: String) throws -> ControlClient {
        do {
            return try ControlClient(path: path)
        } catch where error.errno == EACCES {
            printError("cannot connect to \(path): permission denied (the control socket is for root, znetd's own user and the members of control: group)")
            throw ExitCode(1)
        } catch {
            printError("cannot connect to \(path): \(error)")
            throw ExitCode(1)
        }
    }
}

extension ZnetdCommand {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the state of the services of every running znetd (over their control sockets).")

        @Argument(help: ArgumentHelp("Only this service.", valueName: "name"))
        var name: String?

        @Flag(help: "Print JSON for scripts: one object with every znetd asked and its services.")
        var json = false

        @OptionGroup var control: ControlSocketOptions

        func run() throws {
            var daemons: [JSONValue] = []
            var services: [JSONValue] = []
            var listeners: [JSONValue] = []
            var failed = false
            for path in try control.sockets() {
                let reply: JSONValue
                do {
                    let client = try ControlSocketOptions.connect(path)
                    reply = try client.request(.object([("command", .string("status"))]))
                } catch let exit as ExitCode {
                    throw exit
                } catch {
                    printError("\(path): \(error)")
                    failed = true
                    continue
                }
                guard reply["ok"]?.boolValue == true else {
                    printError("\(path): \(reply["error"]?.stringValue ?? "failed")")
                    failed = true
                    continue
                }
                let matching = (reply["services"]?.arrayValue ?? []).filter { name == nil || $0["name"]?.stringValue == name }
                let shared = name == nil ? reply["listeners"]?.arrayValue ?? [] : []
                services += matching
                listeners += shared
                daemons.append(.object([
                    ("control_socket", .string(path)), ("pid", reply["pid"] ?? .null),
                    ("version", reply["version"] ?? .null), ("services", .array(matching)),
                    ("listeners", .array(shared)),
                ]))
            }
            if let name, services.isEmpty {
                printError("no running znetd serves a service named '\(name)'")
                throw ExitCode(1)
            }
            if json {
                print(JSONValue.object([("znetd", .array(daemons))]).pretty)
            } else {
                print(StatusTable.render(services), terminator: "")
                if !listeners.isEmpty { print("\n" + StatusTable.render(listeners: listeners), terminator: "") }
            }
            if failed { throw ExitCode(1) }
        }
    }

    struct Metrics: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the Prometheus metrics of every running znetd (over their control sockets).",
            discussion: """
                With --inetd, answer one HTTP request on standard input and output instead, as \
                the znetd-metrics@.service units of the per-service layout do.
                """)

        @Flag(help: "Read an HTTP request from standard input and answer it on standard output.")
        var inetd = false

        @OptionGroup var control: ControlSocketOptions

        func run() throws {
            if inetd && !MetricsRequest.readIsMetrics() {
                MetricsRequest.answer(status: "404 Not Found", body: "metrics are at /metrics\n", type: "text/plain")
                return
            }
            var services: [JSONValue] = []
            var listeners: [JSONValue] = []
            let paths = control.paths.isEmpty ? ControlClient.discoverSockets() : control.paths
            for path in paths {
                guard let client = try? ControlClient(path: path),
                      let reply = try? client.request(.object([("command", .string("status"))])),
                      reply["ok"]?.boolValue == true else {
                    printError("\(path): no status; its services are left out")
                    continue
                }
                services += reply["services"]?.arrayValue ?? []
                listeners += reply["listeners"]?.arrayValue ?? []
            }
            let text = PrometheusText.render(services: services, listeners: listeners)
            if inetd {
                MetricsRequest.answer(status: "200 OK", body: text, type: PrometheusText.contentType)
            } else {
                print(text, terminator: "")
            }
        }
    }

    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a backend (or a route on a shared listener) to a running service.")

        @OptionGroup var registration: RegistrationOptions

        @Flag(help: "Keep it across restarts of znetd (stored in its state directory).")
        var persistent = false

        @Flag(help: "Stay connected: the registration lasts as long as this command runs.")
        var wait = false

        @Option(help: ArgumentHelp("When the registration goes, hold new clients this long for it to come back (default 10s, at most 30s; 0 for none).",
                                   valueName: "duration"))
        var grace: String?

        @OptionGroup var control: ControlSocketOptions

        func run() throws {
            var fields = try registration.fields()
            fields.append(("persistent", .bool(persistent)))
            if let grace {
                guard let duration = parseDuration(grace), duration <= Registration.maximumGrace else {
                    throw ValidationError("--grace must be a duration from 0s to 30s, such as 10s; found '\(grace)'")
                }
                let (seconds, attoseconds) = duration.components
                fields.append(("grace_ms", .integer(seconds * 1000 + attoseconds / 1_000_000_000_000_000)))
            }
            fields.append(("wait", .bool(wait)))
            let (client, reply) = try ask(.object([("command", .string("register"))] + fields), control: control)
            print("registered \(registration.summary)\(wait ? "; press Ctrl-C to unregister" : "")")
            _ = reply
            // A script waits for this line before it relies on the registration.
            fflush(nil)
            if wait {
                signal(SIGPIPE, SIG_IGN)
                client.waitUntilClosed()
            }
        }
    }

    struct Unregister: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a registered backend or route (after its grace period, unless --now).")

        @OptionGroup var registration: RegistrationOptions

        @Flag(help: "Remove it at once, without a grace period.")
        var now = false

        @OptionGroup var control: ControlSocketOptions

        func run() throws {
            let fields = try registration.fields() + [("now", .bool(now))]
            _ = try ask(.object([("command", .string("unregister"))] + fields), control: control)
            print("unregistered \(registration.summary)")
        }
    }
}

/// The HTTP side of `znetd metrics --inetd`: one request on stdin, one answer on stdout.
enum MetricsRequest {
    /// Reads the request head; true for GET (or HEAD) of /metrics.
    static func readIsMetrics() -> Bool {
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while head.count < 8192, read(STDIN_FILENO, &byte, 1) == 1 {
            head.append(byte)
            if head.count >= 4 && head.suffix(4) == [13, 10, 13, 10] { break }
        }
        let line = String(decoding: head.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self).split(separator: " ")
        guard line.count == 3, line[0] == "GET" || line[0] == "HEAD" else { return false }
        let path = line[1].split(separator: "?", maxSplits: 1).first ?? ""
        return path == "/metrics" || path == "/"
    }

    static func answer(status: String, body: String, type: String) {
        let bytes = Array(body.utf8)
        var out = Array("HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(bytes.count)\r\nConnection: close\r\n\r\n".utf8) + bytes
        var offset = 0
        while offset < out.count {
            let n = out.withUnsafeMutableBytes { write(STDOUT_FILENO, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { return }
            offset += n
        }
    }
}

/// What `register` and `unregister` name: a backend of a service, or a route to it.
struct RegistrationOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The service.", valueName: "name"))
    var service: String

    @Option(help: ArgumentHelp("The backend: host:port, [v6]:port or unix:/path.", valueName: "address"))
    var target: String?

    @Option(help: ArgumentHelp("A shared listener to route from (instead of --target).", valueName: "name"))
    var listener: String?

    @Option(help: ArgumentHelp("With --listener: the host name the route matches.", valueName: "host"))
    var host: String?

    @Option(help: ArgumentHelp("With --listener: the path prefix the route matches.", valueName: "path"))
    var path: String?

    func validate() throws {
        if (target == nil) == (listener == nil) {
            throw ValidationError("give either --target ADDRESS (a backend) or --listener NAME (a route)")
        }
        if target != nil && (host != nil || path != nil) {
            throw ValidationError("--host and --path go with --listener")
        }
    }

    func fields() throws -> [(String, JSONValue)] {
        var fields: [(String, JSONValue)] = [("service", .string(service))]
        if let target {
            do {
                _ = try parseTargetAddress(target)
            } catch {
                throw ValidationError("--target: \(error)")
            }
            fields.append(("target", .string(target)))
        }
        if let listener { fields.append(("listener", .string(listener))) }
        if let host { fields.append(("host", .string(host))) }
        if let path { fields.append(("path", .string(path))) }
        return fields
    }

    var summary: String {
        if let target { return "backend \(target) of service \(service)" }
        return "route \(host ?? "*")\(path ?? "/") on listener \(listener ?? "") to service \(service)"
    }
}

/// Sends `request` to the znetd that has its service: the one socket given, or the first of
/// those found that knows the service. Prints the error and exits 1 on a refusal.
private func ask(_ request: JSONValue, control: ControlSocketOptions) throws -> (ControlClient, JSONValue) {
    var lastError = "no running znetd has the service"
    for path in try control.sockets() {
        let client = try ControlSocketOptions.connect(path)
        let reply: JSONValue
        do {
            reply = try client.request(request)
        } catch {
            printError("\(path): \(error)")
            throw ExitCode(1)
        }
        if reply["ok"]?.boolValue == true { return (client, reply) }
        lastError = reply["error"]?.stringValue ?? "failed"
        if !lastError.hasPrefix("no service ") { break }
    }
    printError(lastError)
    throw ExitCode(1)
}

/// The human form of `znetd status`: one line per service, then one per backend.
enum StatusTable {
    static func render(_ services: [JSONValue]) -> String {
        var rows = [["SERVICE", "STATE", "LAUNCHER", "ACTIVE", "TOTAL", "IN", "OUT", "WAKE-UPS", "LAST WAKE-UP", "LAST ERROR"]]
        var backendLines: [String: [String]] = [:]
        for service in services {
            let name = service["name"]?.stringValue ?? "?"
            var lastWake = "-"
            if let wake = service["last_wakeup"], let at = wake["at_unix_ms"]?.intValue {
                let ago = max(0, Int64(time(nil)) - at / 1000)
                lastWake = "\(ago)s ago, \(wake["duration_ms"]?.doubleValue.map { "\(Int($0))ms" } ?? "?")"
            }
            rows.append([
                name, service["state"]?.stringValue ?? "?", service["launcher"]?.stringValue ?? "?",
                "\(service["connections_active"]?.intValue ?? 0)", "\(service["connections_total"]?.intValue ?? 0)",
                bytes(service["bytes_in"]?.intValue ?? 0), bytes(service["bytes_out"]?.intValue ?? 0),
                "\(service["wakeups"]?.intValue ?? 0)", lastWake, service["last_error"]?.stringValue ?? "-",
            ])
            backendLines[name] = (service["backends"]?.arrayValue ?? []).map { backend in
                let registered = (service["registrations"]?.arrayValue ?? []).contains {
                    $0["target"]?.stringValue == backend["address"]?.stringValue
                }
                return "  backend \(backend["address"]?.stringValue ?? "?"): \(backend["health"]?.stringValue ?? "?"), tier \(backend["tier"]?.intValue ?? 0), "
                    + "\(backend["connections_active"]?.intValue ?? 0) active\(registered ? ", registered" : "")"
            }
        }
        return table(rows) { backendLines[$0, default: []] }
    }

    /// Shared listeners: one line each, then one per route.
    static func render(listeners: [JSONValue]) -> String {
        var rows = [["LISTENER", "MODE", "ACTIVE", "TOTAL", "ROUTED", "UNROUTED"]]
        var routeLines: [String: [String]] = [:]
        for listener in listeners {
            let name = listener["name"]?.stringValue ?? "?"
            let mode = (listener["mode"]?.stringValue ?? "?") + (listener["tls"]?.boolValue == true ? "+tls" : "")
            rows.append([
                name, mode, "\(listener["connections_active"]?.intValue ?? 0)", "\(listener["connections_total"]?.intValue ?? 0)",
                "\(listener["routed"]?.intValue ?? 0)", "\(listener["unrouted"]?.intValue ?? 0)",
            ])
            routeLines[name] = (listener["routes"]?.arrayValue ?? []).map { route in
                "  route \(route["host"]?.stringValue ?? "*")\(route["path"]?.stringValue ?? "/") -> \(route["service"]?.stringValue ?? "?")"
                    + (route["registered"]?.boolValue == true ? " (registered)" : "")
            }
        }
        return table(rows) { routeLines[$0, default: []] }
    }

    /// Columns padded to their widest cell; `details(first cell)` lines after each row.
    private static func table(_ rows: [[String]], details: (String) -> [String]) -> String {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        var out = ""
        for (index, row) in rows.enumerated() {
            out += row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ") + "\n"
            if index > 0 { out += details(row[0]).map { $0 + "\n" }.joined() }
        }
        return out
    }

    private static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count), unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(count)B" : "\(Double(Int(value * 10)) / 10)\(units[unit])"
    }
}
