public import ZnetdConfig

/// systemd's unit manager over the system bus, from an EventLoop: start transient or existing
/// units, stop them, read and watch their state, list them.
///
/// Nothing blocks: the connection is made and used in the loop's processing rounds (see
/// `BusConnection`), and every request ends in its completion, called once on the loop's
/// thread (never from inside the call that made the request). Requests made before the
/// connection is up are queued by sd-bus.
///
/// Jobs (start, stop) complete when systemd's JobRemoved signal names the job their call
/// returned: the match and Subscribe() go out first on every new connection, and a
/// JobRemoved that overtakes the reply carrying its job path is kept until that reply comes.
///
/// The connection is opened on first use; after it is lost, pending requests fail with a
/// `.disconnected` error, the next request reconnects, and watches reconnect on their own
/// (with backoff) and report the state they find.
///
/// Confined to the loop's thread; root (or a polkit rule) is needed to start and stop units.
public final class SystemdUnits {
    public let loop: EventLoop
    /// Bounds every method call (not the jobs it starts: a start job lasts as long as the
    /// unit's own TimeoutStartSec=).
    public var callTimeout: Duration = .seconds(25)

    private var connection: BusConnection?
    private var jobRemovedMatch: BusMatch?
    /// Completions of queued jobs, by job object path.
    private var pendingJobs: [String: (Result<JobOutcome, UnitError>) -> Void] = [:]
    /// JobRemoved signals that came while a job-returning call still awaited its reply.
    private var earlyRemovedJobs: [String: JobOutcome] = [:]
    private var jobCallsInFlight = 0
    /// Transient units started with AddRef=true on the current connection: systemd keeps them
    /// (even failed) until they are unreferenced or this connection ends.
    private var referencedUnits: Set<String> = []
    private var addRefSupported = true
    var watches: [ObjectIdentifier: UnitWatch] = [:]
    private var reconnectTimer: LoopTimer?
    private var reconnectDelay: Duration = .seconds(1)
    static let maximumReconnectDelay: Duration = .seconds(30)

    public init(loop: EventLoop) {
        self.loop = loop
    }

    deinit {
        reconnectTimer?.cancel()
        connection?.close()
    }

    /// Closes the connection; requests still pending fail with "connection closed", watches stop.
    public func close() {
        reconnectTimer?.cancel()
        reconnectTimer = nil
        for watch in Array(watches.values) { watch.cancel() }
        jobRemovedMatch = nil
        connection?.close()
        connection = nil
        failPendingJobs(.disconnected("the connection was closed"))
    }

    // MARK: Transient units

    /// Starts `command` as the transient unit `name` (StartTransientUnit, mode "fail") and
    /// completes when the start job is done.
    ///
    /// The unit gets Description, ExecStart (argv[0] as the path), CollectMode=
    /// inactive-or-failed, AddRef=true (dropped when systemd does not know it), Environment
    /// (`command.environment` then `extraEnvironment`), WorkingDirectory, User and Group
    /// from `command`, then `properties` in order. With AddRef the unit stays loaded (so its
    /// state can be read after a failure) until `stopUnit` or `releaseUnit`, or until this
    /// connection closes; after that systemd collects it once it is inactive or failed.
    ///
    /// For Type=simple "done" only means forked; Type=notify waits for READY=1.
    public func startTransientUnit(
        name: String, description: String, command: Command, properties: [UnitProperty],
        extraEnvironment: [String] = [],
        completion: @escaping (Result<JobOutcome, UnitError>) -> Void
    ) {
        guard let path = command.argv.first else {
            later(completion, .failure(UnitError(kind: .local, message: "transient unit \(name): empty command")))
            return
        }
        let addRef = addRefSupported
        runJob(
            unit: name,
            build: { connection throws(UnitError) in
                let message = try connection.methodCall(
                    path: SystemdBus.managerPath, interface: SystemdBus.manager, member: "StartTransientUnit")
                try message.append(name)
                try message.append("fail")
                try message.open("a", "(sv)")
                try message.appendProperty("Description", .string(description))
                try message.open("r", "sv")
                try message.append("ExecStart")
                try message.open("v", "a(sasb)")
                try message.open("a", "(sasb)")
                try message.open("r", "sasb")
                try message.append(path)
                try message.append(strings: command.argv)
                try message.append(false)  // a failing ExecStart fails the unit
                try message.close()
                try message.close()
                try message.close()
                try message.close()
                try message.appendProperty("CollectMode", .string("inactive-or-failed"))
                if addRef { try message.appendProperty("AddRef", .boolean(true)) }
                let environment = command.environment + extraEnvironment
                if !environment.isEmpty { try message.appendProperty("Environment", .strings(environment)) }
                if let directory = command.workingDirectory {
                    try message.appendProperty("WorkingDirectory", .string(directory))
                }
                if let user = command.user { try message.appendProperty("User", .string(user)) }
                if let group = command.group { try message.appendProperty("Group", .string(group)) }
                for property in properties { try message.appendProperty(property.name, property.value) }
                try message.close()
                try message.open("a", "(sa(sv))")  // no auxiliary units
                try message.close()
                return message
            },
            queued: { [weak self] in if addRef { self?.referencedUnits.insert(name) } },
            completion: { [weak self] result in
                // systemd 235 and older: "Cannot set property AddRef, or unknown property."
                if addRef, case .failure(let error) = result,
                   error.busErrorName == "org.freedesktop.DBus.Error.PropertyReadOnly",
                   error.message.contains("AddRef"), let self {
                    self.addRefSupported = false
                    self.startTransientUnit(name: name, description: description, command: command,
                                            properties: properties, extraEnvironment: extraEnvironment,
                                            completion: completion)
                    return
                }
                completion(result)
            })
    }

    /// Drops the reference AddRef gave us on a transient unit (UnrefUnit), so systemd collects
    /// it once it is inactive or failed. Succeeds if there was no reference.
    public func releaseUnit(name: String, completion: @escaping (Result<Void, UnitError>) -> Void) {
        referencedUnits.remove(name)
        callManager("UnrefUnit", { message throws(UnitError) in try message.append(name) }) { result in
            switch result {
            case .success: completion(.success(()))
            case .failure(let error) where error.busErrorName == "org.freedesktop.systemd1.NotReferenced"
                || error.busErrorName == "org.freedesktop.systemd1.NoSuchUnit":
                completion(.success(()))
            case .failure(let error): completion(.failure(error))
            }
        }
    }

    // MARK: Existing units

    /// A Manager method taking (s name, s mode) in mode "replace": StartUnit, StopUnit.
    private static func unitJobCall(_ member: String, _ name: String)
        -> (BusConnection) throws(UnitError) -> BusMessage
    {
        { connection throws(UnitError) in
            let message = try connection.methodCall(
                path: SystemdBus.managerPath, interface: SystemdBus.manager, member: member)
            try message.append(name)
            try message.append("replace")
            return message
        }
    }

    /// StartUnit(name, "replace"); completes when the start job is done.
    public func startUnit(name: String, completion: @escaping (Result<JobOutcome, UnitError>) -> Void) {
        runJob(unit: name, build: Self.unitJobCall("StartUnit", name), completion: completion)
    }

    /// StopUnit(name, "replace"); completes when the stop job is done. A transient unit this
    /// object started with AddRef is released afterwards, so systemd collects it.
    public func stopUnit(name: String, completion: @escaping (Result<JobOutcome, UnitError>) -> Void) {
        runJob(unit: name, build: Self.unitJobCall("StopUnit", name), completion: { [weak self] result in
            guard let self, self.referencedUnits.contains(name) else {
                completion(result)
                return
            }
            self.releaseUnit(name: name) { _ in completion(result) }
        })
    }

    // MARK: Calls

    /// The connection, opened (and subscribed) if there is none.
    func connected() -> Result<BusConnection, UnitError> {
        if let connection, connection.isOpen { return .success(connection) }
        connection = nil
        let connection: BusConnection
        do throws(UnitError) {
            connection = try BusConnection.connectSystem(loop: loop, timeout: callTimeout)
        } catch {
            return .failure(error)
        }
        connection.onClose = { [weak self, weak connection] error in
            guard let self, let connection, self.connection === connection else { return }
            self.connectionLost(error)
        }
        do throws(UnitError) {
            // The match before Subscribe, both before any job: the bus handles one client's
            // messages in order, so no JobRemoved of ours can slip past.
            jobRemovedMatch = try connection.matchSignal(
                sender: SystemdBus.destination, path: SystemdBus.managerPath,
                interface: SystemdBus.manager, member: "JobRemoved"
            ) { [weak self] message in self?.jobRemoved(message) }
            let subscribe = try connection.methodCall(
                path: SystemdBus.managerPath, interface: SystemdBus.manager, member: "Subscribe")
            connection.call(subscribe, timeout: callTimeout.microseconds) { [weak self, weak connection] result in
                guard let self, let connection, self.connection === connection else { return }
                switch result {
                case .success:
                    self.reconnectDelay = .seconds(1)
                case .failure(let error):
                    // Without it no job would ever complete: drop the connection, fail the jobs.
                    self.connectionLost(error)
                }
            }
        } catch {
            connection.close()
            return .failure(error)
        }
        self.connection = connection
        referencedUnits.removeAll()  // references belong to a connection
        for watch in watches.values { install(watch, on: connection) }
        return .success(connection)
    }

    private func connectionLost(_ error: UnitError) {
        connection?.close()
        connection = nil
        jobRemovedMatch = nil
        failPendingJobs(error)
        for watch in watches.values { watch.match = nil }
        if !watches.isEmpty { scheduleReconnect() }
    }

    func scheduleReconnect() {
        guard reconnectTimer == nil else { return }
        let delay = reconnectDelay
        reconnectDelay = min(reconnectDelay * 2, SystemdUnits.maximumReconnectDelay)
        reconnectTimer = loop.schedule(after: delay.nanoseconds) { [weak self] in
            guard let self else { return }
            self.reconnectTimer = nil
            if self.watches.isEmpty { return }
            if case .failure = self.connected() { self.scheduleReconnect() }
        }
    }

    private func failPendingJobs(_ error: UnitError) {
        let jobs = pendingJobs
        pendingJobs.removeAll()
        earlyRemovedJobs.removeAll()
        for completion in jobs.values { completion(.failure(error)) }
    }

    /// Calls `completion` from the loop, never from inside the caller's call.
    func later<T>(_ completion: @escaping (Result<T, UnitError>) -> Void, _ result: Result<T, UnitError>) {
        loop.schedule(after: 0) { completion(result) }
    }

    /// One method call on the manager object, with its reply.
    func callManager(
        _ member: String, _ arguments: (BusMessage) throws(UnitError) -> Void,
        completion: @escaping (Result<BusMessage, UnitError>) -> Void
    ) {
        call(path: SystemdBus.managerPath, interface: SystemdBus.manager, member: member, arguments,
             completion: completion)
    }

    func call(
        path: String, interface: String, member: String, _ arguments: (BusMessage) throws(UnitError) -> Void,
        completion: @escaping (Result<BusMessage, UnitError>) -> Void
    ) {
        switch connected() {
        case .failure(let error):
            later(completion, .failure(error))
        case .success(let connection):
            do throws(UnitError) {
                let message = try connection.methodCall(path: path, interface: interface, member: member)
                try arguments(message)
                connection.call(message, timeout: callTimeout.microseconds, reply: completion)
            } catch {
                later(completion, .failure(error))
            }
        }
    }

    // MARK: Jobs

    private func runJob(
        unit: String, build: (BusConnection) throws(UnitError) -> BusMessage,
        queued: @escaping () -> Void = {},
        completion: @escaping (Result<JobOutcome, UnitError>) -> Void
    ) {
        let connection: BusConnection
        let message: BusMessage
        do throws(UnitError) {
            connection = try connected().get()
            message = try build(connection)
        } catch {
            later(completion, .failure(error))
            return
        }
        jobCallsInFlight += 1
        connection.call(message, timeout: callTimeout.microseconds) { result in
            self.jobCallsInFlight -= 1
            defer { if self.jobCallsInFlight == 0 { self.earlyRemovedJobs.removeAll() } }
            let job: String
            do throws(UnitError) {
                job = try result.get().readObjectPath()
            } catch {
                completion(.failure(error))
                return
            }
            queued()
            if let outcome = self.earlyRemovedJobs.removeValue(forKey: job) {
                SystemdUnits.finish(outcome, completion)
            } else if self.connection === connection {
                self.pendingJobs[job] = completion
            } else {
                completion(.failure(.disconnected("the connection was lost before job \(job) of \(unit) finished")))
            }
        }
    }

    private func jobRemoved(_ message: BusMessage) {
        // JobRemoved(u id, o job, s unit, s result)
        guard (try? message.readUInt32()) != nil,
              let job = try? message.readObjectPath(),
              let unit = try? message.readString(),
              let result = try? message.readString() else { return }
        let outcome = JobOutcome(unit: unit, job: job, result: result)
        if let completion = pendingJobs.removeValue(forKey: job) {
            SystemdUnits.finish(outcome, completion)
        } else if jobCallsInFlight > 0 {
            // Maybe ours, its reply still on the way.
            earlyRemovedJobs[job] = outcome
        }
    }

    private static func finish(_ outcome: JobOutcome, _ completion: (Result<JobOutcome, UnitError>) -> Void) {
        completion(outcome.succeeded ? .success(outcome) : .failure(.job(outcome)))
    }
}
