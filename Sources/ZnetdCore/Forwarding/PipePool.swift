import CZnetdLinux
import Glibc

/// A kernel pipe used as the zero-copy buffer of one splicing direction.
public struct SplicePipe {
    public let readEnd: Int32
    public let writeEnd: Int32
    /// What F_GETPIPE_SZ reported after sizing.
    public let capacity: Int

    func close() {
        Glibc.close(readEnd)
        Glibc.close(writeEnd)
    }
}

/// Empty pipes kept for reuse by one event loop.
///
/// A direction takes a pipe only while it is moving bulk data and gives it back once drained,
/// so idle connections pin no pipe pages, and a busy proxy does not pay pipe2 + fcntl per
/// connection. Pipes are sized once with F_SETPIPE_SZ; when the kernel refuses the size (the
/// unprivileged pipe budget, fs.pipe-user-pages-soft, is spent) smaller sizes are tried, and
/// when even a default pipe is unavailable `acquire()` returns nil for a while and callers keep
/// using recv/send.
public final class PipePool {
    public let pipeSize: Int
    private var idle: [SplicePipe] = []
    private var retryAfter: UInt64 = 0
    /// Pipes that exist now (idle or lent out), for status and benchmarks.
    public private(set) var pipesOpen = 0
    /// Idle pipes still count against the per-user pipe budget (by their size, not the pages
    /// they hold), so the pool stays small.
    public static let maximumIdle = 16
    /// Below this a pipe moves too little per splice to beat recv/send.
    static let smallestUseful = 64 * 1024

    init(pipeSize: Int) {
        self.pipeSize = pipeSize
    }

    deinit {
        for pipe in idle { pipe.close() }
    }

    /// An empty pipe, or nil when none can be had now.
    public func acquire(now: UInt64) -> SplicePipe? {
        if let pipe = idle.popLast() { return pipe }
        if now < retryAfter { return nil }
        if let pipe = makePipe() {
            pipesOpen += 1
            return pipe
        }
        // Out of fds or pipe budget: do not retry on every read.
        retryAfter = now &+ 1_000_000_000
        return nil
    }

    /// Takes back a pipe. Only empty pipes may be pooled; a pipe with bytes in it is closed.
    public func recycle(_ pipe: SplicePipe, empty: Bool) {
        if empty && idle.count < PipePool.maximumIdle {
            idle.append(pipe)
        } else {
            pipe.close()
            pipesOpen -= 1
        }
    }

    private func makePipe() -> SplicePipe? {
        var fds: [Int32] = [-1, -1]
        guard znetd_pipe(&fds) == 0 else { return nil }
        var size = pipeSize
        while size >= PipePool.smallestUseful {
            if znetd_pipe_set_size(fds[1], Int32(size)) >= 0 { break }
            size /= 4
        }
        let capacity = Int(znetd_pipe_get_size(fds[1]))
        if capacity < PipePool.smallestUseful {
            // Over the soft pipe budget the kernel hands out two-page pipes: not worth splicing.
            close(fds[0])
            close(fds[1])
            return nil
        }
        return SplicePipe(readEnd: fds[0], writeEnd: fds[1], capacity: capacity)
    }
}
