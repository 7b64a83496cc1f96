// znetd-bus-probe: drives ZnetdCore's SystemdUnits from an EventLoop for the system tests
// (Tests/System/test_systemd_units.py). Not installed, not part of znetd.
//
//   znetd-bus-probe [--timeout=SECONDS] [--call-timeout=SECONDS] OPERATION...
//
// Each argument is one operation, its words separated by spaces, run in order (the next
// starts when the previous completed). One JSON line per result on stdout.
//
//   start-transient NAME [SETTING...] -- PATH ARG...
//       SETTING: Key:TYPE=VALUE (a unit property; TYPE s, b, t, i or as with commas),
//       env=K=V (extra environment), cmdenv=K=V (the command's own environment),
//       cwd=DIR, user=USER, group=GROUP, desc=TEXT
//   start NAME | stop NAME | release NAME | state NAME | load-state NAME
//   list PATTERN...
//   watch NAME          report every state change as {"op":"change",...} from now on
//   await NAME STATE    wait until the watch on NAME has reported ActiveState STATE
//   unwatch NAME | sleep MILLISECONDS
//
// Result lines carry "ms" (how long the operation took) and "ticks" (how often a 10 ms loop
// timer fired meanwhile: the loop was not blocked if it is about ms / 10).
//
// Exit status: 0 when every operation ran (whatever its result), 1 on a usage error,
// 2 when --timeout (default 60 s) expired first.

import Glibc
import ZnetdConfig
import ZnetdCore

func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        done += n
    }
}

/// One line, unbuffered: the test reads lines as they come.
func emit(_ fields: [(String, JSONValue)]) {
    writeAll(1, JSONValue.object(fields).encoded + "\n")
}

func fail(_ message: String) -> Never {
    writeAll(2, "znetd-bus-probe: \(message)\n")
    exit(1)
}

func errorFields(_ error: UnitError) -> [(String, JSONValue)] {
    var fields: [(String, JSONValue)] = [("ok", .bool(false)), ("error", .string(error.description))]
    fields.append(("bus_error", error.busErrorName.map { .string($0) } ?? .null))
    switch error.kind {
    case .noBus: fields.append(("kind", .string("no-bus")))
    case .disconnected: fields.append(("kind", .string("disconnected")))
    case .bus: fields.append(("kind", .string("bus")))
    case .job(let outcome):
        fields.append(("kind", .string("job")))
        fields.append(("result", .string(outcome.result)))
    case .badReply: fields.append(("kind", .string("bad-reply")))
    case .local: fields.append(("kind", .string("local")))
    }
    return fields
}

func stateFields(_ state: UnitState) -> [(String, JSONValue)] {
    [("load_state", .string(state.loadState)), ("active_state", .string(state.activeState)),
     ("sub_state", .string(state.subState)), ("main_pid", state.mainPID.map { .integer(Int64($0)) } ?? .null)]
}

func parseProperty(_ word: String) -> UnitProperty? {
    guard let colon = word.firstIndex(of: ":"), let equals = word[colon...].firstIndex(of: "=") else { return nil }
    let name = String(word[..<colon])
    let type = String(word[word.index(after: colon)..<equals])
    let value = String(word[word.index(after: equals)...])
    switch type {
    case "s": return UnitProperty(name: name, value: .string(value))
    case "b": return UnitProperty(name: name, value: .boolean(value == "true" || value == "yes" || value == "1"))
    case "t": return UInt64(value).map { UnitProperty(name: name, value: .uint64($0)) }
    case "i": return Int32(value).map { UnitProperty(name: name, value: .int32($0)) }
    case "as": return UnitProperty(name: name, value: .strings(value.split(separator: ",").map(String.init)))
    default: return nil
    }
}

// MARK: Main


/// The script and its state; everything runs on the loop's (the main) thread.
final class Probe {
    let operations: [[String]]
    let timeoutSeconds: Double
    let loop: EventLoop
    let units: SystemdUnits
    var watches: [String: UnitWatch] = [:]
    var awaiting: (unit: String, state: String, then: () -> Void)?
    var next = 0
    let startedAt = MonotonicClock.now()
    /// Counts a 10 ms loop timer: it keeps counting while requests wait only if nothing blocks.
    var ticks = 0

    init(arguments: [String]) {
        var arguments = arguments
        var timeoutSeconds = 60.0
        var callTimeout: Duration?
        while let first = arguments.first, first.hasPrefix("--") {
            let value = Double(first.split(separator: "=", maxSplits: 1).last ?? "")
            if first.hasPrefix("--timeout="), let value {
                timeoutSeconds = value
            } else if first.hasPrefix("--call-timeout="), let value {
                callTimeout = .milliseconds(Int64(value * 1000))
            } else {
                fail("bad option \(first)")
            }
            arguments.removeFirst()
        }
        self.timeoutSeconds = timeoutSeconds
        operations = arguments.map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        if operations.isEmpty || operations.contains(where: \.isEmpty) {
            fail("usage: znetd-bus-probe [--timeout=S] OPERATION...")
        }
        do {
            loop = try EventLoop(index: 0, pipeSize: 4096)
        } catch {
            fail("cannot create the event loop: \(error)")
        }
        units = SystemdUnits(loop: loop)
        if let callTimeout { units.callTimeout = callTimeout }
    }

    func run() -> Never {
        loop.schedule(after: UInt64(timeoutSeconds * 1e9)) { [timeoutSeconds] in
            emit([("op", .string("timeout")), ("after_s", .integer(Int64(timeoutSeconds)))])
            exit(2)
        }
        loop.schedule(after: 0) { self.runNext() }
        tick()
        loop.run()
        exit(0)
    }

    func tick() {
        loop.schedule(after: 10_000_000) {
            self.ticks += 1
            self.tick()
        }
    }

    func runNext() {
        guard next < operations.count else {
            units.close()
            exit(0)
        }
        let words = operations[next]
        next += 1
        let started = MonotonicClock.now()
        let ticksBefore = ticks
        let op = words[0]
        func report(_ fields: [(String, JSONValue)]) {
            let ms = Int((MonotonicClock.now() - started) / 1_000_000)
            emit([("op", .string(op))] + (words.count > 1 ? [("unit", .string(words[1]))] : []) + fields
                 + [("ms", .integer(Int64(ms))), ("ticks", .integer(Int64(self.ticks - ticksBefore)))])
            self.runNext()
        }
        func jobDone(_ result: Result<JobOutcome, UnitError>) {
            switch result {
            case .success(let outcome): report([("ok", .bool(true)), ("result", .string(outcome.result)), ("job", .string(outcome.job))])
            case .failure(let error): report(errorFields(error))
            }
        }
        switch (op, words.count) {
        case ("start-transient", 2...):
            let name = words[1]
            guard let dash = words.firstIndex(of: "--"), dash + 1 < words.count else { fail("start-transient needs -- PATH ARG...") }
            var command = Command(argv: Array(words[(dash + 1)...]))
            var properties: [UnitProperty] = []
            var extra: [String] = []
            var description = "znetd-bus-probe \(name)"
            for setting in words[2..<dash] {
                if setting.hasPrefix("env=") { extra.append(String(setting.dropFirst(4))) }
                else if setting.hasPrefix("cmdenv=") { command.environment.append(String(setting.dropFirst(7))) }
                else if setting.hasPrefix("cwd=") { command.workingDirectory = String(setting.dropFirst(4)) }
                else if setting.hasPrefix("user=") { command.user = String(setting.dropFirst(5)) }
                else if setting.hasPrefix("group=") { command.group = String(setting.dropFirst(6)) }
                else if setting.hasPrefix("desc=") { description = String(setting.dropFirst(5)) }
                else if let property = parseProperty(setting) { properties.append(property) }
                else { fail("bad setting \(setting)") }
            }
            units.startTransientUnit(name: name, description: description, command: command,
                                     properties: properties, extraEnvironment: extra, completion: jobDone)
        case ("start", 2):
            units.startUnit(name: words[1], completion: jobDone)
        case ("stop", 2):
            units.stopUnit(name: words[1], completion: jobDone)
        case ("release", 2):
            units.releaseUnit(name: words[1]) { result in
                switch result {
                case .success: report([("ok", .bool(true))])
                case .failure(let error): report(errorFields(error))
                }
            }
        case ("state", 2):
            units.unitState(name: words[1]) { result in
                switch result {
                case .success(let state): report([("ok", .bool(true))] + stateFields(state))
                case .failure(let error): report(errorFields(error))
                }
            }
        case ("load-state", 2):
            // The synchronous variant (znetd check): blocks this loop, which does nothing else here.
            do throws(UnitError) {
                let state = try SystemdUnits.loadState(of: words[1])
                report([("ok", .bool(true)), ("load_state", .string(state))])
            } catch {
                report(errorFields(error))
            }
        case ("list", 2...):
            units.listUnits(patterns: Array(words[1...])) { result in
                switch result {
                case .success(let list):
                    report([("ok", .bool(true)), ("units", .array(list.map {
                        .object([("name", .string($0.name)), ("load_state", .string($0.loadState)),
                                 ("active_state", .string($0.activeState)), ("sub_state", .string($0.subState))])
                    }))])
                case .failure(let error): report(errorFields(error))
                }
            }
        case ("watch", 2):
            let name = words[1]
            watches[name] = units.watchUnit(name: name) { state in
                emit([("op", .string("change")), ("unit", .string(name))] + stateFields(state)
                     + [("t_ms", .integer(Int64((MonotonicClock.now() - self.startedAt) / 1_000_000)))])
                if let wanted = self.awaiting, wanted.unit == name, wanted.state == state.activeState {
                    self.awaiting = nil
                    self.loop.schedule(after: 0) { wanted.then() }
                }
            }
            report([("ok", .bool(true))])
        case ("await", 3):
            let (name, wanted) = (words[1], words[2])
            guard let watch = watches[name] else { fail("await \(name): no watch (use: watch \(name))") }
            if watch.state?.activeState == wanted {
                report([("ok", .bool(true)), ("active_state", .string(wanted))])
            } else {
                awaiting = (name, wanted, { report([("ok", .bool(true)), ("active_state", .string(wanted))]) })
            }
        case ("unwatch", 2):
            watches.removeValue(forKey: words[1])?.cancel()
            report([("ok", .bool(true))])
        case ("sleep", 2):
            guard let ms = UInt64(words[1]) else { fail("bad sleep \(words[1])") }
            loop.schedule(after: ms * 1_000_000) { report([("ok", .bool(true))]) }
        default:
            fail("unknown operation: \(words.joined(separator: " "))")
        }
    }
}

Probe(arguments: Array(CommandLine.arguments.dropFirst())).run()
