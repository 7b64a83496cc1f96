/// Something registered with an EventLoop that reacts to readiness of its file descriptors.
///
/// Subclasses are confined to the thread of the loop they are registered with. A source may
/// register up to two descriptors, told apart by `side` (0 or 1), so a relay can watch its
/// client and its backend with one object and no lookup table.
open class EventSource {
    /// Set once the source has closed its descriptors; events still queued for it are dropped.
    public internal(set) var isClosed = false

    public init() {}

    /// Called on the loop's thread with the epoll event bits for the descriptor of `side`.
    open func handle(events: UInt32, side: Int) {}

    /// Called when the loop runs work it deferred with `EventLoop.deferWork(_:)`.
    open func runDeferred() {}
}
