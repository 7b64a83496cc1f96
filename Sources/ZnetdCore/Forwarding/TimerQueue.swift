/// A one-shot timer on an EventLoop. Cancelling is O(1): the entry stays in the heap and is
/// skipped when it comes due.
public final class LoopTimer {
    let deadline: UInt64
    let sequence: UInt64
    fileprivate(set) var isCancelled = false
    let action: () -> Void

    init(deadline: UInt64, sequence: UInt64, action: @escaping () -> Void) {
        self.deadline = deadline
        self.sequence = sequence
        self.action = action
    }

    public func cancel() { isCancelled = true }
}

/// A binary min-heap of timers ordered by deadline, then by creation.
struct TimerQueue {
    private var heap: [LoopTimer] = []
    private var nextSequence: UInt64 = 0

    mutating func nextDeadline() -> UInt64? {
        while let first = heap.first, first.isCancelled { _ = popFirst() }
        return heap.first?.deadline
    }

    mutating func schedule(at deadline: UInt64, _ action: @escaping () -> Void) -> LoopTimer {
        nextSequence &+= 1
        let timer = LoopTimer(deadline: deadline, sequence: nextSequence, action: action)
        heap.append(timer)
        siftUp(heap.count - 1)
        return timer
    }

    /// Removes and returns every live timer due at `now`, earliest first.
    mutating func popDue(now: UInt64) -> [LoopTimer] {
        var due: [LoopTimer] = []
        while let first = heap.first, first.deadline <= now {
            let timer = popFirst()
            if !timer.isCancelled { due.append(timer) }
        }
        return due
    }

    private func less(_ a: LoopTimer, _ b: LoopTimer) -> Bool {
        a.deadline != b.deadline ? a.deadline < b.deadline : a.sequence < b.sequence
    }

    private mutating func popFirst() -> LoopTimer {
        let first = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
        return first
    }

    private mutating func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(heap[child], heap[parent]) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var parent = index
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, less(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count, less(heap[right], heap[smallest]) { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
