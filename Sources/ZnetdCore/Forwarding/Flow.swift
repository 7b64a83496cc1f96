import CZnetdLinux
import Glibc

/// Readiness of one socket as last reported by edge-triggered epoll and refined by the calls
/// made since (EAGAIN clears it, a new event sets it).
struct Readiness {
    var readable = false
    var writable = false
    /// The peer shut down its side (EPOLLRDHUP/HUP seen): an EOF is queued behind any data,
    /// and no further edge will announce it, so reads must go on until recv returns 0.
    var peerClosed = false
}

/// What one pass over a flow ended with.
enum FlowOutcome {
    /// Blocked on the source (nothing to read) or the destination (full); an event resumes it.
    case waiting
    /// Moved its share for this turn and has more: run it again after other connections.
    case yielded
    /// The source ended and the destination was shut down for writing.
    case finished
    /// A call failed with this errno; the connection is broken.
    case failed(Int32)
}

/// One direction of a relay: bytes read from a source socket and written to a destination.
///
/// Small reads go through the loop's scratch buffer with recv/send, which costs two copies
/// but no pipe; once a read fills the buffer the flow is moving bulk data and switches to
/// splice(2) through a pooled pipe, and back when the source runs dry. Bytes are held in at
/// most one place (the pipe or the pending buffer) and nothing more is read until they are
/// written, so a slow reader bounds what znetd holds per direction to one pipe.
struct Flow {
    private(set) var bytes: UInt64 = 0
    private(set) var sourceEnded = false
    private(set) var isFinished = false
    private var pipe: SplicePipe?
    private var bytesInPipe = 0
    private var pending: UnsafeMutableRawBufferPointer?
    private var pendingStart = 0
    private var pendingEnd = 0

    /// Bytes moved per turn before yielding to other connections on the loop.
    static let turnBudget = 1 << 20

    var isSplicing: Bool { pipe != nil }

    /// - Parameter closesNext: the other direction has finished, so the relay closes both
    ///   sockets as soon as this one does: close() sends the FIN, and shutdown() is skipped.
    mutating func run(
        from source: Int32, _ sourceReady: inout Readiness,
        to destination: Int32, _ destinationReady: inout Readiness,
        closesNext: Bool = false,
        loop: EventLoop
    ) -> FlowOutcome {
        if isFinished { return .finished }
        var moved = 0
        while true {
            // 1. Write out what is held.
            if bytesInPipe > 0 || pendingEnd > pendingStart {
                guard destinationReady.writable else { return .waiting }
                // Bytes copied out before a pipe was taken go first.
                let fromPending = pendingEnd > pendingStart
                let written: Int
                if fromPending {
                    written = send(destination, pending!.baseAddress! + pendingStart,
                                   pendingEnd - pendingStart, ZNETD_MSG_NOSIGNAL)
                } else {
                    written = znetd_splice(pipe!.readEnd, destination, bytesInPipe)
                }
                if written < 0 {
                    if errno == EAGAIN { destinationReady.writable = false; return .waiting }
                    if errno == EINTR { continue }
                    return .failed(errno)
                }
                if fromPending {
                    pendingStart += written
                    if pendingStart == pendingEnd { freePending() }
                } else {
                    bytesInPipe -= written
                }
                moved += written
                if moved >= Flow.turnBudget { return .yielded }
                continue
            }
            // 2. Source ended and everything is written: pass the EOF on.
            if sourceEnded {
                if !closesNext { shutdown(destination, Int32(SHUT_WR)) }
                releasePipe(loop)
                isFinished = true
                return .finished
            }
            // 3. Read more.
            guard sourceReady.readable else { return .waiting }
            if let pipe {
                let n = znetd_splice(source, pipe.writeEnd, pipe.capacity)
                if n > 0 {
                    bytesInPipe = n
                    bytes &+= UInt64(n)
                } else if n == 0 {
                    sourceEnded = true
                } else if errno == EAGAIN {
                    // Drained: give the pipe back so an idle connection pins none.
                    sourceReady.readable = false
                    releasePipe(loop)
                    return .waiting
                } else if errno != EINTR {
                    return .failed(errno)
                }
                continue
            }
            let n = recv(source, loop.scratch.baseAddress!, EventLoop.scratchSize, 0)
            if n > 0 {
                bytes &+= UInt64(n)
                if n < EventLoop.scratchSize {
                    // A short read from a stream socket took all it had, and the next edge says
                    // when there is more; unless the peer already closed, when the EOF is due now.
                    if !sourceReady.peerClosed { sourceReady.readable = false }
                } else {
                    pipe = loop.pipes.acquire(now: loop.now)
                }
                var sent = 0
                if destinationReady.writable {
                    sent = send(destination, loop.scratch.baseAddress!, n, ZNETD_MSG_NOSIGNAL)
                    if sent < 0 {
                        if errno != EAGAIN { return .failed(errno) }
                        sent = 0
                    }
                    if sent < n { destinationReady.writable = false }
                }
                if sent < n { hold(loop.scratch.baseAddress! + sent, count: n - sent) }
                moved += n
                if moved >= Flow.turnBudget { return .yielded }
            } else if n == 0 {
                sourceEnded = true
            } else if errno == EAGAIN {
                sourceReady.readable = false
                return .waiting
            } else if errno != EINTR {
                return .failed(errno)
            }
        }
    }

    /// Keeps bytes that could not be sent yet.
    private mutating func hold(_ bytes: UnsafeMutableRawPointer, count: Int) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: EventLoop.scratchSize, alignment: 16)
        buffer.baseAddress!.copyMemory(from: bytes, byteCount: count)
        pending = buffer
        pendingStart = 0
        pendingEnd = count
    }

    private mutating func freePending() {
        pending?.deallocate()
        pending = nil
        pendingStart = 0
        pendingEnd = 0
    }

    private mutating func releasePipe(_ loop: EventLoop) {
        if let pipe {
            loop.pipes.recycle(pipe, empty: bytesInPipe == 0)
            self.pipe = nil
            bytesInPipe = 0
        }
    }

    /// Frees what the flow holds; bytes still in flight are dropped (the connection is closing).
    mutating func discard(_ loop: EventLoop) {
        releasePipe(loop)
        freePending()
    }
}
