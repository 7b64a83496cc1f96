import Glibc
import ZnetdConfig

/// launcher: hooks. Commands start and stop the backend (boot and shut down a VM, say). The
/// start hook is skipped when the check hook exits 0 or the target already answers. Hooks
/// run as children of znetd, never blocking the loop, each bounded by start_timeout (the
/// supervisor's) or stop_timeout.
final class HookLauncher: BackendLauncher {
    let kind = "hooks"
    private let service: String
    private let start: Command
    private let stopCommand: Command?
    private let check: Command?
    private let endpoints: () -> TargetEndpoints
    private let reaper: ChildReaper
    private let loop: EventLoop
    var onExit: ((String) -> Void)?
    /// How long the target gets to answer before the start hook runs.
    static let answerWindow: UInt64 = 300_000_000

    init(service: String, start: Command, stop: Command?, check: Command?,
         endpoints: @escaping () -> TargetEndpoints, reaper: ChildReaper, loop: EventLoop) {
        self.service = service
        self.start = start
        self.stopCommand = stop
        self.check = check
        self.endpoints = endpoints
        self.reaper = reaper
        self.loop = loop
    }

    func start(environment: [String], _ started: @escaping (Result<Void, LaunchError>) -> Void) {
        if let check {
            run(check, "check", timeout: nil) { [self] result in
                if case .success(let status) = result, status.isSuccess { return started(.success(())) }
                startUnlessAnswering(started)
            }
        } else {
            startUnlessAnswering(started)
        }
    }

    private func startUnlessAnswering(_ started: @escaping (Result<Void, LaunchError>) -> Void) {
        var decided = false
        var window: LoopTimer?
        let probe = ConnectProbe(loop: loop, endpoints: endpoints()) {
            guard !decided else { return }
            decided = true
            window?.cancel()
            started(.success(()))
        }
        window = loop.schedule(after: HookLauncher.answerWindow) { [self] in
            guard !decided else { return }
            decided = true
            probe.cancel()
            run(start, "start", timeout: nil) { result in
                switch result {
                case .success(let status) where status.isSuccess:
                    started(.success(()))
                case .success(let status):
                    started(.failure(LaunchError("start hook \(status)")))
                case .failure(let error):
                    started(.failure(LaunchError("start hook: \(error)")))
                }
            }
        }
        probe.start()
    }

    func stop(signal: StopSignal, timeout: Duration, _ stopped: @escaping () -> Void) {
        guard let stopCommand else { return stopped() }
        run(stopCommand, "stop", timeout: timeout) { _ in stopped() }
    }

    /// A backend started by an earlier znetd counts as running when the check hook says so.
    func adopt(_ found: @escaping (Bool) -> Void) {
        guard let check else { return found(false) }
        run(check, "check", timeout: nil) { result in
            if case .success(let status) = result { found(status.isSuccess) } else { found(false) }
        }
    }

    private func run(_ command: Command, _ hook: String, timeout: Duration?,
                     _ done: @escaping (Result<ExitStatus, LaunchError>) -> Void) {
        CommandRun.run(command, identifier: "znetd-\(service)-\(hook)", reaper: reaper, loop: loop,
                       timeout: timeout, done)
    }
}
