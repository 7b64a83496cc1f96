import CZnetdLinux
import Glibc
import ZnetdConfig

/// launcher: process. The backend is a child of znetd in a session and process group of its
/// own, so stopping it reaches its whole process tree; its output goes to the journal under
/// "znetd-SERVICE". With hand_off it also gets the service's listening sockets.
final class ProcessLauncher: BackendLauncher {
    let kind = "process"
    private let service: String
    private let command: Command
    private let reaper: ChildReaper
    private let loop: EventLoop
    /// The listening sockets to hand over (hand_off), read at each start.
    private let handOff: () -> [HandOffSocket]
    private var child: ChildProcess?
    private var stopping: (done: () -> Void, killer: LoopTimer)?
    private var handedOff: [HandOffSocket] = []
    var onExit: ((String) -> Void)?

    init(service: String, command: Command, reaper: ChildReaper, loop: EventLoop,
         handOff: @escaping () -> [HandOffSocket] = { [] }) {
        self.service = service
        self.command = command
        self.reaper = reaper
        self.loop = loop
        self.handOff = handOff
    }

    var processGroup: Int32? { child?.processGroup }

    func start(environment: [String], _ started: @escaping (Result<Void, LaunchError>) -> Void) {
        let child: ChildProcess
        do {
            let output = try JournalStream.open(identifier: "znetd-\(service)")
            defer { output.closeParentCopy() }
            let sockets = handOff()
            var request = try SpawnRequest(command: command, output: output, handOff: sockets)
            request.environment = ChildEnvironment.merging(request.environment, environment)
            // Backends get blocking sockets, as from a .socket unit (NonBlocking=no); znetd
            // accepts nothing on them meanwhile and makes them non-blocking again afterwards.
            setBlocking(sockets, true)
            handedOff = sockets
            child = try ChildProcess.spawn(request)
        } catch {
            setBlocking(handedOff, false)
            handedOff = []
            return started(.failure(LaunchError("\(error)")))
        }
        self.child = child
        reaper.watch(child) { [weak self] status in self?.exited(child, status) }
        started(.success(()))
    }

    private func exited(_ child: ChildProcess, _ status: ExitStatus) {
        guard self.child === child else { return }
        self.child = nil
        setBlocking(handedOff, false)
        handedOff = []
        // The main process is gone; what it left in its group goes too.
        _ = try? child.signalGroup(SIGKILL)
        if let stopping {
            stopping.killer.cancel()
            self.stopping = nil
            stopping.done()
        } else {
            onExit?("\(status)")
        }
    }

    func stop(signal: StopSignal, timeout: Duration, _ stopped: @escaping () -> Void) {
        guard let child else { return stopped() }
        _ = try? child.signalGroup(signal.number)
        let killer = loop.schedule(after: timeout.nanoseconds) {
            _ = try? child.signalGroup(SIGKILL)
        }
        stopping = (stopped, killer)
    }

    private func setBlocking(_ sockets: [HandOffSocket], _ blocking: Bool) {
        for socket in sockets { _ = znetd_set_nonblocking(socket.fd, blocking ? 0 : 1) }
    }
}
