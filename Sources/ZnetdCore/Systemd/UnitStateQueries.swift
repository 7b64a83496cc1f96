import CSystemd
import Glibc

// MARK: Reading unit state

extension SystemdUnits {
    /// The unit's load, active and sub state, and for a service its main PID.
    ///
    /// LoadUnit first (so a unit that is not loaded reads as "not-found"/"inactive" rather
    /// than failing), then Properties.Get of each value on the object path it returns.
    public func unitState(name: String, completion: @escaping (Result<UnitState, UnitError>) -> Void) {
        callManager("LoadUnit", { message throws(UnitError) in try message.append(name) }) { result in
            let path: String
            do throws(UnitError) {
                path = try result.get().readObjectPath()
            } catch {
                completion(.failure(error))
                return
            }
            self.readState(name: name, path: path, completion: completion)
        }
    }

    private func readState(name: String, path: String,
                           completion: @escaping (Result<UnitState, UnitError>) -> Void) {
        final class Gathered {
            var values: [String: String] = [:]
            var mainPID: UInt32?
            var error: UnitError?
            var waiting = 0
        }
        let gathered = Gathered()
        let finish = {
            gathered.waiting -= 1
            guard gathered.waiting == 0 else { return }
            if let error = gathered.error {
                completion(.failure(error))
                return
            }
            completion(.success(UnitState(
                name: name, loadState: gathered.values["LoadState"] ?? "",
                activeState: gathered.values["ActiveState"] ?? "",
                subState: gathered.values["SubState"] ?? "", mainPID: gathered.mainPID)))
        }
        let names = ["LoadState", "ActiveState", "SubState"]
        let isService = name.hasSuffix(".service")
        gathered.waiting = names.count + (isService ? 1 : 0)
        for property in names {
            getProperty(path: path, interface: SystemdBus.unit, name: property) { result in
                do throws(UnitError) {
                    gathered.values[property] = try result.get().readVariantString() ?? ""
                } catch {
                    if gathered.error == nil { gathered.error = error }
                }
                finish()
            }
        }
        if isService {
            getProperty(path: path, interface: SystemdBus.service, name: "MainPID") { result in
                // Not fatal: a unit that failed to load has no Service interface.
                if let pid = try? result.get().readVariantUInt32(), pid != 0 { gathered.mainPID = pid }
                finish()
            }
        }
    }

    private func getProperty(path: String, interface: String, name: String,
                             completion: @escaping (Result<BusMessage, UnitError>) -> Void) {
        call(path: path, interface: SystemdBus.properties, member: "Get", { message throws(UnitError) in
            try message.append(interface)
            try message.append(name)
        }, completion: completion)
    }

    // MARK: Listing

    /// Units loaded in systemd whose names match any of the glob `patterns`
    /// (ListUnitsByPatterns with no state filter), e.g. `znetd-*-backend.service`.
    public func listUnits(patterns: [String], completion: @escaping (Result<[ListedUnit], UnitError>) -> Void) {
        callManager("ListUnitsByPatterns", { message throws(UnitError) in
            try message.append(strings: [])
            try message.append(strings: patterns)
        }) { result in
            completion(Result { () throws(UnitError) -> [ListedUnit] in
                let reply = try result.get()
                // a(ssssssouso): name, description, load, active, sub, following, path,
                // job id, job type, job path.
                var units: [ListedUnit] = []
                try reply.enter("a", "(ssssssouso)")
                while try reply.enter("r", "ssssssouso") {
                    let name = try reply.readString()
                    let description = try reply.readString()
                    let load = try reply.readString()
                    let active = try reply.readString()
                    let sub = try reply.readString()
                    try reply.skip("souso")
                    try reply.exit()
                    units.append(ListedUnit(name: name, description: description, loadState: load,
                                            activeState: active, subState: sub))
                }
                try reply.exit()
                return units
            })
        }
    }

    // MARK: Watching

    /// Calls `onChange` on the loop's thread with the unit's state now and whenever it
    /// changes (PropertiesChanged on the unit's object path): a backend that crashed or was
    /// stopped shows up as "failed" or "inactive". Keeps watching across reconnections.
    /// Cancel the returned watch to stop.
    public func watchUnit(name: String, onChange: @escaping (UnitState) -> Void) -> UnitWatch {
        let watch = UnitWatch(unit: name, owner: self, onChange: onChange)
        watches[ObjectIdentifier(watch)] = watch
        switch connected() {
        case .success(let connection):
            // connected() installs every watch when it opens a connection; an open one needs it here.
            if watch.match == nil { install(watch, on: connection) }
        case .failure:
            scheduleReconnect()
        }
        return watch
    }

    /// Adds the watch's match on `connection`, then reads the state once, so a change between
    /// the two is not missed.
    func install(_ watch: UnitWatch, on connection: BusConnection) {
        watch.match?.cancel()
        watch.match = try? connection.matchSignal(
            sender: SystemdBus.destination, path: SystemdBus.unitPath(watch.unit),
            interface: SystemdBus.properties, member: "PropertiesChanged"
        ) { [weak watch] message in watch?.propertiesChanged(message) }
        unitState(name: watch.unit) { [weak watch] result in
            if case .success(let state) = result { watch?.update(state) }
        }
    }

    // MARK: One-shot check

    /// The unit's LoadState ("loaded", "not-found", "masked", "bad-setting", ...), asked
    /// synchronously, for `znetd check` only: it blocks up to `timeout`. Throws a `.noBus`
    /// error ("cannot verify: no system bus (...)") when there is no bus to ask.
    public static func loadState(of unit: String, timeout: Duration = .seconds(3)) throws(UnitError) -> String {
        var bus: OpaquePointer?
        let r = sd_bus_open_system_with_description(&bus, "znetd-check")
        guard r >= 0, let bus else {
            throw UnitError(kind: .noBus, message: "cannot verify: no system bus (\(errnoDescription(-r)))")
        }
        defer { sd_bus_close_unref(bus) }
        let usec = timeout.microseconds
        sd_bus_set_method_call_timeout(bus, usec)
        try waitUntilReady(bus, deadline: MonotonicClock.now() &+ timeout.nanoseconds, timeout: timeout)

        func call(_ message: BusMessage) throws(UnitError) -> BusMessage {
            var error = sd_bus_error()
            defer { sd_bus_error_free(&error) }
            var reply: OpaquePointer?
            let rc = sd_bus_call(bus, message.pointer, usec, &error, &reply)
            if rc >= 0, let reply { return BusMessage(adopting: reply) }
            let name = error.name.map { String(cString: $0) }
            if let name, !name.hasPrefix("System.Error.") {
                throw UnitError(kind: .bus(name: name), message: error.message.map { String(cString: $0) } ?? "")
            }
            throw UnitError(kind: .noBus, message: "cannot verify: no system bus (\(errnoDescription(-rc)))")
        }

        let load = try BusMessage.methodCall(
            on: bus, path: SystemdBus.managerPath, interface: SystemdBus.manager, member: "LoadUnit")
        try load.append(unit)
        let path = try call(load).readObjectPath()
        let get = try BusMessage.methodCall(
            on: bus, path: path, interface: SystemdBus.properties, member: "Get")
        try get.append(SystemdBus.unit)
        try get.append("LoadState")
        guard let state = try call(get).readVariantString() else {
            throw UnitError.badReply("LoadState of \(unit) is not a string")
        }
        return state
    }
}

/// Runs sd-bus until the connection is up (authenticated, Hello answered), for at most until
/// `deadline`: sd_bus_call would wait out sd-bus's own authentication timeout (90 s) on a bus
/// that accepts connections but does not answer.
private func waitUntilReady(_ bus: OpaquePointer, deadline: UInt64, timeout: Duration) throws(UnitError) {
    while sd_bus_is_ready(bus) <= 0 {
        let r = sd_bus_process(bus, nil)
        if r < 0 {
            throw UnitError(kind: .noBus, message: "cannot verify: no system bus (\(errnoDescription(-r)))")
        }
        if r > 0 { continue }
        let now = MonotonicClock.now()
        guard now < deadline else {
            throw UnitError(kind: .noBus, message:
                "cannot verify: the system bus did not answer within \(timeout.microseconds / 1_000) ms")
        }
        var entry = pollfd(fd: sd_bus_get_fd(bus), events: Int16(truncatingIfNeeded: sd_bus_get_events(bus)), revents: 0)
        let wait = Int32(min((deadline - now + 999_999) / 1_000_000, 1_000))
        _ = poll(&entry, 1, wait)
    }
}

/// A watch on one unit's state; see `SystemdUnits.watchUnit`.
public final class UnitWatch {
    public let unit: String
    /// The last state reported.
    public private(set) var state: UnitState?
    private weak var owner: SystemdUnits?
    private let onChange: (UnitState) -> Void
    /// MainPID from a Service signal, waiting for the Unit signal of the same transition.
    private var pendingMainPID: UInt32??
    var match: BusMatch?

    init(unit: String, owner: SystemdUnits, onChange: @escaping (UnitState) -> Void) {
        self.unit = unit
        self.owner = owner
        self.onChange = onChange
    }

    /// Stops watching; `onChange` is not called afterwards.
    public func cancel() {
        match?.cancel()
        match = nil
        owner?.watches.removeValue(forKey: ObjectIdentifier(self))
        owner = nil
    }

    func update(_ new: UnitState) {
        guard owner != nil, new != state else { return }
        state = new
        onChange(new)
    }

    /// PropertiesChanged(s interface, a{sv} changed, as invalidated). systemd sends every
    /// emits-change property of the interface, so the states come together. The Service
    /// interface's signal (MainPID) comes just before the Unit one of the same transition: it
    /// is folded in silently, and reported with the next Unit signal, so no half-updated state
    /// ("active" without a PID, "inactive" with one) is ever reported.
    func propertiesChanged(_ message: BusMessage) {
        guard let interface = try? message.readString(),
              interface == SystemdBus.unit || interface == SystemdBus.service else { return }
        var next = state ?? UnitState(name: unit, loadState: "", activeState: "", subState: "")
        do throws(UnitError) {
            try message.enter("a", "{sv}")
            while try message.enter("e", "sv") {
                let name = try message.readString()
                switch (interface, name) {
                case (SystemdBus.unit, "LoadState"): next.loadState = try message.readVariantString() ?? next.loadState
                case (SystemdBus.unit, "ActiveState"): next.activeState = try message.readVariantString() ?? next.activeState
                case (SystemdBus.unit, "SubState"): next.subState = try message.readVariantString() ?? next.subState
                case (SystemdBus.service, "MainPID"):
                    let pid = try message.readVariantUInt32()
                    next.mainPID = pid == 0 ? nil : pid
                default: try message.skip("v")
                }
                try message.exit()
            }
            try message.exit()
        } catch {
            return
        }
        if interface == SystemdBus.service {
            pendingMainPID = .some(next.mainPID)
            return
        }
        if let pid = pendingMainPID {
            next.mainPID = pid
            pendingMainPID = nil
        }
        // Until the first read answers, only a complete Unit signal says enough.
        if state == nil && (next.activeState.isEmpty || next.loadState.isEmpty) { return }
        update(next)
    }
}
