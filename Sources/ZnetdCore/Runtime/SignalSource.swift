import CZnetdLinux
import Glibc

/// Delivers process signals as events on a loop through a signalfd.
///
/// The signals must be blocked in every thread (call `block` before starting any), so the
/// kernel queues them for the signalfd instead of running a handler on a random thread.
/// SIGCHLD goes to the child reaper; the others to the handler.
final class SignalSource: EventSource {
    private let fd: Int32
    private let reaper: ChildReaper
    private let handler: (Int32) -> Void

    static let handled: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGUSR2, SIGCHLD]

    /// Blocks the handled signals in the calling thread and the threads it starts later, and
    /// ignores SIGPIPE (splice to a closed socket raises it; the error is handled where it occurs).
    static func block() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in handled { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        Glibc.signal(SIGPIPE, SIG_IGN)
    }

    init(loop: EventLoop, reaper: ChildReaper, handler: @escaping (Int32) -> Void) throws(SystemError) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in SignalSource.handled { sigaddset(&set, signal) }
        fd = try retryingEINTR("signalfd") { znetd_signalfd(&set) }
        self.reaper = reaper
        self.handler = handler
        super.init()
        loop.register(fd, source: self, side: 0, events: ZNETD_EPOLLIN)
    }

    override func handle(events: UInt32, side: Int) {
        while true {
            let signal = znetd_signalfd_read(fd)
            if signal < 0 { return }
            // SIGCHLDs coalesce while pending: one reap collects every child that ended.
            if signal == SIGCHLD {
                reaper.reap()
            } else {
                handler(signal)
            }
        }
    }
}
