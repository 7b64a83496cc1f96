import CZnetdLinux
import Glibc
public import Synchronization

/// One epoll instance driven by one thread.
///
/// Descriptors are registered edge-triggered with the source's address (tagged with its side)
/// as epoll data, so dispatching an event costs no lookup. A source that closes stays alive
/// until the end of the batch it closed in, so later events of that batch never touch freed
/// memory. Work from other threads arrives through `execute(_:)` and an eventfd.
public final class EventLoop: @unchecked Sendable {
    public let index: Int
    private let epollFD: Int32
    private let wakeFD: Int32
    private var timers = TimerQueue()
    private var deferred: [EventSource] = []
    private var retained: [ObjectIdentifier: EventSource] = [:]
    private var closedThisBatch: [EventSource] = []
    private let tasks = Mutex<[@Sendable () -> Void]>([])
    private let wakePending = Atomic<Bool>(false)
    /// CLOCK_MONOTONIC at the start of the current iteration, in nanoseconds.
    public private(set) var now: UInt64 = MonotonicClock.now()
    /// The last time this loop went around: the watchdog pings only while every loop does.
    public let heartbeat = Atomic<UInt64>(0)
    /// The longest a loop sleeps in epoll_wait, so its heartbeat stays fresh; nil: unbounded.
    public var maximumSleep: UInt64?
    /// Reused by relays for the plain recv/send path: one buffer per loop, not per connection.
    public let scratch: UnsafeMutableRawBufferPointer
    public static let scratchSize = 16 * 1024
    public let pipes: PipePool
    private var running = false

    public init(index: Int, pipeSize: Int) throws(SystemError) {
        self.index = index
        epollFD = try retryingEINTR("epoll_create1") { znetd_epoll_create() }
        wakeFD = try retryingEINTR("eventfd") { znetd_eventfd() }
        scratch = .allocate(byteCount: EventLoop.scratchSize, alignment: 64)
        pipes = PipePool(pipeSize: pipeSize)
        _ = znetd_epoll_add(epollFD, wakeFD, ZNETD_EPOLLIN, 0)
    }

    // MARK: Registration

    /// Watches `fd` edge-triggered for input, output and peer hang-up.
    @discardableResult
    public func register(_ fd: Int32, source: EventSource, side: Int, events: UInt32? = nil) -> Bool {
        let mask = events ?? (ZNETD_EPOLLIN | ZNETD_EPOLLOUT | ZNETD_EPOLLRDHUP | ZNETD_EPOLLET)
        retained[ObjectIdentifier(source)] = source
        return znetd_epoll_add(epollFD, fd, mask, token(source, side)) == 0
    }

    public func unregister(_ fd: Int32) {
        _ = znetd_epoll_delete(epollFD, fd)
    }

    /// The source is done: drop it after this batch of events.
    public func release(_ source: EventSource) {
        source.isClosed = true
        if let kept = retained.removeValue(forKey: ObjectIdentifier(source)) {
            closedThisBatch.append(kept)
        }
    }

    private func token(_ source: EventSource, _ side: Int) -> UInt64 {
        UInt64(UInt(bitPattern: Unmanaged.passUnretained(source).toOpaque())) | UInt64(side & 1)
    }

    // MARK: Work

    /// Runs `source.runDeferred()` after this batch, for sources that stopped to be fair to others.
    public func deferWork(_ source: EventSource) {
        deferred.append(source)
    }

    @discardableResult
    public func schedule(after delay: UInt64, _ action: @escaping () -> Void) -> LoopTimer {
        timers.schedule(at: now &+ delay, action)
    }

    /// Runs `task` on this loop's thread. Safe from any thread.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        tasks.withLock { $0.append(task) }
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    // MARK: Running

    /// Runs until `stop()`; never returns otherwise.
    public func run() {
        running = true
        var events = [znetd_epoll_event](repeating: znetd_epoll_event(), count: 256)
        while running {
            now = MonotonicClock.now()
            heartbeat.store(now, ordering: .relaxed)
            let timeout = sleepTimeout()
            let count = events.withUnsafeMutableBufferPointer {
                znetd_epoll_wait(epollFD, $0.baseAddress, Int32($0.count), timeout)
            }
            now = MonotonicClock.now()
            if count > 0 {
                for i in 0..<Int(count) { dispatch(events[i]) }
            }
            for timer in timers.popDue(now: now) { timer.action() }
            if !deferred.isEmpty {
                let work = deferred
                deferred.removeAll(keepingCapacity: true)
                for source in work where !source.isClosed { source.runDeferred() }
            }
            closedThisBatch.removeAll(keepingCapacity: true)
        }
    }

    public func stop() { running = false }

    private func sleepTimeout() -> Int32 {
        if !deferred.isEmpty { return 0 }
        var wait: UInt64? = timers.nextDeadline().map { $0 > now ? $0 - now : 0 }
        if let cap = maximumSleep { wait = min(wait ?? cap, cap) }
        guard let ns = wait else { return -1 }
        // Round up so a timer is never woken for a millisecond early and spins.
        return Int32(min((ns + 999_999) / 1_000_000, UInt64(Int32.max)))
    }

    private func dispatch(_ event: znetd_epoll_event) {
        if event.data == 0 {
            runTasks()
            return
        }
        let side = Int(event.data & 1)
        let raw = UnsafeRawPointer(bitPattern: UInt(event.data & ~1))!
        let source = Unmanaged<EventSource>.fromOpaque(raw).takeUnretainedValue()
        if !source.isClosed { source.handle(events: event.events, side: side) }
    }

    private func runTasks() {
        var counter: UInt64 = 0
        _ = read(wakeFD, &counter, 8)
        wakePending.store(false, ordering: .releasing)
        let work = tasks.withLock { pending -> [@Sendable () -> Void] in
            let work = pending
            pending.removeAll()
            return work
        }
        for task in work { task() }
    }
}
