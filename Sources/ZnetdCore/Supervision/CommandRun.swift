import Glibc
import ZnetdConfig

/// Runs a command to completion without blocking the loop (hooks, exec readiness checks):
/// spawn it, and learn its exit from the reaper. A run that outlives `timeout` is killed with
/// its process group; one that ends in time keeps whatever it started.
enum CommandRun {
    static func run(
        _ command: Command, identifier: String, reaper: ChildReaper, loop: EventLoop,
        timeout: Duration?, _ done: @escaping (Result<ExitStatus, LaunchError>) -> Void
    ) {
        let child: ChildProcess
        do {
            let output = try JournalStream.open(identifier: identifier)
            defer { output.closeParentCopy() }
            child = try ChildProcess.spawn(SpawnRequest(command: command, output: output))
        } catch {
            return done(.failure(LaunchError("\(error)")))
        }
        var killer: LoopTimer?
        if let timeout {
            killer = loop.schedule(after: timeout.nanoseconds) {
                _ = try? child.signalGroup(SIGKILL)
            }
        }
        reaper.watch(child) { status in
            // What it left running stays: a start hook exists to leave a backend behind.
            killer?.cancel()
            done(.success(status))
        }
    }
}
