import Glibc
import ZnetdConfig

/// Runs a service's active health checks on the control loop: every `interval`, one probe per
/// backend (never two at once for one backend), each bounded by `timeout`. Socket probes are
/// non-blocking sources on the loop; `exec:` checks are spawned and their exit learnt from the
/// reaper, so no check ever blocks a loop. Results go to the backend set, which counts them
/// toward `rise` and `fall` and logs transitions.
final class HealthMonitor {
    private let backends: BackendSet
    private let control: EventLoop
    private let reaper: ChildReaper
    private let serviceName: String
    private var inFlight: Set<ObjectIdentifier> = []
    private var timer: LoopTimer?
    private var stopped = false
    /// With no active probe configured, how often to look again (a reload may add one).
    static let idleRecheck: UInt64 = 1_000_000_000

    init(backends: BackendSet, control: EventLoop, reaper: ChildReaper, serviceName: String) {
        self.backends = backends
        self.control = control
        self.reaper = reaper
        self.serviceName = serviceName
    }

    func start() { round() }

    func stop() {
        stopped = true
        timer?.cancel()
    }

    private func round() {
        guard !stopped else { return }
        let health = backends.balancing.health
        guard let probe = health.probe else {
            timer = control.schedule(after: HealthMonitor.idleRecheck) { [weak self] in self?.round() }
            return
        }
        for backend in backends.backends where backend.admission == .open {
            let key = ObjectIdentifier(backend)
            guard !inFlight.contains(key) else { continue }
            inFlight.insert(key)
            // A check in flight keeps the monitor alive until it reports (a removed service's
            // monitor then just drops the result).
            check(backend, probe, timeout: health.timeout.nanoseconds) { [self] success, reason in
                inFlight.remove(key)
                guard !stopped else { return }
                let what = success ? "health check passed" : "health check failed"
                backends.record(backend, success: success, now: control.now, reason: "\(what): \(reason)")
            }
        }
        timer = control.schedule(after: health.interval.nanoseconds) { [weak self] in self?.round() }
    }

    private func check(_ backend: Backend, _ probe: HealthCheck.Probe, timeout: UInt64,
                       done: @escaping (Bool, String) -> Void) {
        switch probe {
        case .tcp:
            HealthProbe(loop: control, kind: .tcp, address: backend.address, done: done).start(timeout: timeout)
        case .http(let path, let expect):
            HealthProbe(loop: control, kind: .http(path: path, expect: expect), address: backend.address, done: done)
                .start(timeout: timeout)
        case .exec(let argv):
            let address = backend.address
            let environment = [
                "ZNETD_SERVICE=\(serviceName)",
                "ZNETD_BACKEND=\(address)",
                "ZNETD_BACKEND_HOST=\(address.family == AF_UNIX ? "\(address)" : address.host)",
                "ZNETD_BACKEND_PORT=\(address.port.map(String.init) ?? "")",
            ]
            CommandRun.run(
                Command(argv: argv, environment: environment), identifier: "znetd-health", reaper: reaper,
                loop: control, timeout: .nanoseconds(Int64(timeout))
            ) { result in
                switch result {
                case .success(.exited(code: 0)): done(true, "\(argv[0]) exited 0")
                case .success(let status): done(false, "\(argv[0]) \(status)")
                case .failure(let error): done(false, "\(error)")
                }
            }
        }
    }
}
