import Glibc
import Logging
import ZnetdConfig

/// The on-demand life of one service's backend, driven on the control loop.
///
/// ```
///  asleep ──first client / auto_start──▶ waking ──ready──▶ ready ──idle for stop_after──▶ stopping ─▶ asleep
///     ▲                                    │ failed, start_timeout     │ exited on its own
///     └────────────── (clients refused) ◀──┘                          └──▶ asleep (next client wakes it)
///  more than start_limit_burst wake-ups within start_limit_interval ──▶ backoff (clients refused) ──▶ asleep
/// ```
///
/// Clients wait in the service's gate while the backend is not ready; the gate opens when it
/// is, and closes (under its lock, re-checking that no client slipped in) before an idle stop.
/// Every callback of a wake-up carries its generation, so answers from an abandoned attempt
/// (a probe, a launcher reply) are ignored.
final class Supervisor: @unchecked Sendable {
    enum State: Equatable {
        case asleep, waking, ready, stopping, backoff
    }

    let service: ServiceRuntime
    private(set) var settings: OnDemand
    private let launcher: any BackendLauncher
    private let control: EventLoop
    private let reaper: ChildReaper
    private let logger: Logger
    private(set) var state = State.asleep
    private var generation = 0
    private var notifySocket: NotifySocket?
    private var probe: ConnectProbe?
    private var startTimer: LoopTimer?
    private var idleTimer: LoopTimer?
    private var settleTimer: LoopTimer?
    private var wakeStarted: UInt64 = 0
    private var readySince: UInt64 = 0
    private var recentStarts: [UInt64] = []
    private var backoffUntil: UInt64 = 0
    private var wakeWhenStopped = false
    /// The stop under way was an idle stop (logged), not the clean-up of a failed wake-up.
    private var stopWasAsked = false
    /// Hand-off services: take the listening sockets back from the loops / give them back.
    var pauseAccepting: (() -> Void)?
    var resumeAccepting: (() -> Void)?
    private(set) var lastError: String?
    /// When the last wake-up finished and how long it took (first client to ready), in µs.
    private(set) var lastWake: (at: UInt64, microseconds: UInt64)?
    private(set) var wakeCount = 0
    /// How long wake-ups took (first client to ready), for znetd_wakeup_duration_seconds.
    private(set) var wakeDurations = DurationHistogram()

    init(service: ServiceRuntime, settings: OnDemand, launcher: any BackendLauncher, control: EventLoop,
         reaper: ChildReaper) {
        self.service = service
        self.reaper = reaper
        self.settings = settings
        self.launcher = launcher
        self.control = control
        var logger = service.logger
        logger[metadataKey: "launcher"] = "\(launcher.kind)"
        self.logger = logger
    }

    var launcherKind: String { launcher.kind }

    /// Hooks the supervisor to its service and takes over a backend that is already running.
    func begin() {
        let control = control
        // Asleep until proven otherwise: clients wait for the wake-up.
        service.gate.close()
        service.gate.onFirstHeld { [self] in control.execute { [self] in wake(reason: "first connection") } }
        service.onIdle { [self] in control.execute { [self] in becameIdle() } }
        launcher.onExit = { [unowned self] why in backendExited(why) }
        launcher.adopt { [unowned self] found in
            if found {
                logger.notice("backend already running; taking it over")
                state = .ready
                readySince = control.now
                releaseHeld()
                if service.active.load(ordering: .relaxed) == 0 { becameIdle() }
            } else if settings.autoStart {
                wake(reason: "auto_start")
            } else if service.gate.pending > 0 {
                // Held before the hook was set, or while a slow adoption (a D-Bus round trip)
                // kept the wake-up back: typically the connection that socket-activated znetd.
                wake(reason: "first connection")
            }
        }
    }

    /// New settings from a reload; they apply from the next wake-up on.
    func update(_ settings: OnDemand) {
        self.settings = settings
    }

    // MARK: Waking

    func wake(reason: String) {
        switch state {
        case .ready:
            releaseHeld()
            return
        case .waking:
            return
        case .stopping:
            wakeWhenStopped = true
            return
        case .backoff:
            guard control.now >= backoffUntil else {
                refuseHeld("backend is in a crash loop; znetd starts it again in \(remaining(until: backoffUntil))")
                return
            }
            state = .asleep
        case .asleep:
            break
        }
        if service.config.onDemand?.handOff == true { return handOff(reason: reason) }
        guard admitStart() else { return }
        state = .waking
        wakeStarted = control.now
        generation += 1
        let current = generation
        logger.info("waking backend (\(reason))")
        startTimer = control.schedule(after: settings.startTimeout.nanoseconds) { [unowned self] in
            guard generation == current, state == .waking else { return }
            let detail = probe.map { ": last probe: \($0.lastError)" } ?? ""
            wakeFailed("not ready within start_timeout (\(formatDuration(settings.startTimeout)))\(detail)")
        }
        var environment: [String] = []
        if case .notify = settings.readiness, launcher.kind != "transient-unit" {
            do {
                let socket = try NotifySocket(service: service.name, loop: control) { [unowned self] in
                    becomeReady(current)
                }
                notifySocket = socket
                environment.append("NOTIFY_SOCKET=\(socket.address)")
            } catch {
                return wakeFailed("cannot create a NOTIFY_SOCKET: \(error)")
            }
        }
        launcher.start(environment: environment) { [unowned self] result in
            guard generation == current, state == .waking else { return }
            switch result {
            case .failure(let error):
                wakeFailed("\(error)")
            case .success:
                notifySocket?.allowedGroup = launcher.processGroup
                awaitReadiness(current)
            }
        }
    }

    /// Enforces start_limit_burst within start_limit_interval; false (and backoff) beyond it.
    private func admitStart() -> Bool {
        let interval = settings.startLimitInterval.nanoseconds
        recentStarts.removeAll { control.now &- $0 >= interval }
        guard recentStarts.count < settings.startLimitBurst else {
            state = .backoff
            backoffUntil = recentStarts[0] &+ interval
            lastError = "started \(recentStarts.count) times within \(formatDuration(settings.startLimitInterval)); "
                + "not starting it again for \(remaining(until: backoffUntil))"
            logger.error("crash loop: \(lastError!)")
            refuseHeld("backend is in a crash loop (\(lastError!))")
            return false
        }
        recentStarts.append(control.now)
        return true
    }

    private func awaitReadiness(_ current: Int) {
        switch settings.readiness {
        case .tcp:
            let probe = ConnectProbe(loop: control, endpoints: service.snapshot.endpoints) { [unowned self] in
                becomeReady(current)
            }
            self.probe = probe
            probe.start()
        case .notify:
            // A transient unit of Type=notify is ready when its start job is done; a process
            // says READY=1 on the socket created above.
            if launcher.kind == "transient-unit" { becomeReady(current) }
        case .exec(let argv):
            runReadinessCommand(argv, current)
        }
    }

    /// ready: exec:/path: run it until it exits 0, backing off like the connect probe.
    private func runReadinessCommand(_ argv: [String], _ current: Int, delay: UInt64 = 10_000_000) {
        ReadinessCommand.run(argv, service: service.name, reaper: reaper, loop: control) { [unowned self] result in
            guard generation == current, state == .waking else { return }
            switch result {
            case .success:
                becomeReady(current)
            case .failure(let error):
                lastError = "\(error)"
                control.schedule(after: delay) { [unowned self] in
                    guard generation == current, state == .waking else { return }
                    runReadinessCommand(argv, current, delay: min(delay * 2, 1_000_000_000))
                }
            }
        }
    }

    private func becomeReady(_ current: Int) {
        guard generation == current, state == .waking else { return }
        probe?.cancel()
        probe = nil
        let settle = settings.waitAfterStart.nanoseconds
        guard settle > 0 else { return finishWake() }
        settleTimer = control.schedule(after: settle) { [unowned self] in
            guard generation == current, state == .waking else { return }
            finishWake()
        }
    }

    private func finishWake() {
        startTimer?.cancel()
        state = .ready
        readySince = control.now
        lastError = nil
        wakeCount += 1
        let microseconds = (control.now &- wakeStarted) / 1_000
        lastWake = (control.now, microseconds)
        wakeDurations.record(microseconds: microseconds)
        let milliseconds = Double(microseconds / 100) / 10
        logger.notice("backend ready after \(milliseconds) ms",
                      metadata: ["wake_usec": "\(microseconds)"])
        releaseHeld()
        if service.active.load(ordering: .relaxed) == 0 { becameIdle() }
    }

    private func wakeFailed(_ reason: String) {
        lastError = reason
        logger.error("cannot wake backend: \(reason)")
        refuseHeld("backend could not be started: \(reason)")
        stop(reason: nil)
    }

    // MARK: Hand-off

    /// hand_off: the backend takes the listening sockets and serves clients itself.
    private func handOff(reason: String) {
        guard admitStart() else { return }
        state = .waking
        wakeStarted = control.now
        generation += 1
        let current = generation
        logger.info("handing the listening sockets to the backend (\(reason))")
        pauseAccepting?()
        launcher.start(environment: []) { [unowned self] result in
            guard generation == current, state == .waking else { return }
            switch result {
            case .failure(let error):
                lastError = "\(error)"
                logger.error("cannot start backend: \(error)")
                state = .asleep
                resumeAccepting?()
            case .success:
                finishWake()
            }
        }
    }

    // MARK: Idle stop

    private func becameIdle() {
        guard state == .ready, let stopAfter = settings.stopAfter, service.config.onDemand?.handOff != true else { return }
        idleTimer?.cancel()
        idleTimer = control.schedule(after: stopAfter.nanoseconds) { [unowned self] in idleTimerFired() }
    }

    private func idleTimerFired() {
        guard state == .ready, service.active.load(ordering: .sequentiallyConsistent) == 0 else { return }
        let earliest = readySince &+ settings.minUptime.nanoseconds
        if control.now < earliest {
            idleTimer = control.schedule(after: earliest &- control.now) { [unowned self] in idleTimerFired() }
            return
        }
        // Close the gate first, then make sure no client got past it meanwhile.
        service.gate.close()
        if service.active.load(ordering: .sequentiallyConsistent) > 0 {
            releaseHeld()
            return
        }
        stop(reason: "idle for \(formatDuration(settings.stopAfter ?? .zero))")
    }

    /// Stops the backend; `reason` nil when a failed wake-up is being cleaned up.
    private func stop(reason: String?) {
        service.gate.close()
        state = .stopping
        stopWasAsked = reason != nil
        generation += 1
        cancelTimers()
        if let reason { logger.info("stopping backend: \(reason)") }
        launcher.stop(signal: settings.stopSignal, timeout: settings.stopTimeout) { [unowned self] in stopped() }
    }

    private func stopped() {
        guard state == .stopping else { return }
        state = .asleep
        if stopWasAsked { logger.info("backend stopped") }
        if wakeWhenStopped || service.gate.pending > 0 {
            wakeWhenStopped = false
            wake(reason: "clients arrived while it was stopping")
        }
    }

    // MARK: Exits

    /// The backend ended without being asked to.
    private func backendExited(_ why: String) {
        switch state {
        case .waking:
            if service.config.onDemand?.handOff == true {
                lastError = "backend \(why)"
                state = .asleep
                resumeAccepting?()
                return
            }
            wakeFailed("backend \(why) while starting")
        case .ready:
            cancelTimers()
            generation += 1
            state = .asleep
            if service.config.onDemand?.handOff == true {
                logger.info("backend \(why); taking the listening sockets back")
                resumeAccepting?()
                return
            }
            service.gate.close()
            lastError = "backend exited (\(why))"
            logger.warning("backend exited (\(why)); the next connection starts it again")
            if service.gate.pending > 0 { wake(reason: "clients waiting") }
        case .stopping, .asleep, .backoff:
            break
        }
    }

    /// znetd is stopping: stop a backend that dies with znetd anyway (a child process).
    func shutdown(_ done: @escaping () -> Void) {
        cancelTimers()
        generation += 1
        guard launcher.kind == "process", state == .waking || state == .ready else { return done() }
        state = .stopping
        launcher.stop(signal: settings.stopSignal, timeout: settings.stopTimeout) { done() }
    }

    // MARK: Helpers

    private func releaseHeld() {
        for relay in service.gate.open() {
            relay.worker.loop.execute { relay.released() }
        }
    }

    private func refuseHeld(_ reason: String) {
        for relay in service.gate.takeAll() {
            relay.worker.loop.execute { relay.refused(reason) }
        }
    }

    private func cancelTimers() {
        startTimer?.cancel()
        idleTimer?.cancel()
        settleTimer?.cancel()
        probe?.cancel()
        probe = nil
        notifySocket?.close(on: control)
        notifySocket = nil
    }

    private func remaining(until deadline: UInt64) -> String {
        let left = deadline > control.now ? deadline - control.now : 0
        return formatDuration(.milliseconds(Int64((left + 999_999) / 1_000_000)))
    }

    /// The state as `znetd status` names it.
    var stateName: String {
        switch state {
        case .asleep: return "asleep"
        case .waking: return "waking"
        case .ready: return "ready"
        case .stopping: return "stopping"
        case .backoff: return "crash-loop"
        }
    }

    /// "asleep", "waking", "ready (3 clients)", "stopping", "crash loop".
    var statusText: String {
        switch state {
        case .asleep: return lastError == nil ? "asleep" : "asleep (last error: \(lastError!))"
        case .waking: return "waking"
        case .ready:
            let clients = service.active.load(ordering: .relaxed)
            return "ready (\(clients) client\(clients == 1 ? "" : "s"))"
        case .stopping: return "stopping"
        case .backoff: return "crash loop, retry in \(remaining(until: backoffUntil))"
        }
    }
}
