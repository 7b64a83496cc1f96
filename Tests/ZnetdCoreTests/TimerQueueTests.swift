import Testing
@testable import ZnetdCore

struct TimerQueueTests {
    @Test func firesInDeadlineOrderThenCreationOrder() {
        var queue = TimerQueue()
        var fired: [String] = []
        for (deadline, name) in [(30, "c"), (10, "a"), (20, "b1"), (20, "b2"), (40, "d")] {
            _ = queue.schedule(at: UInt64(deadline)) { fired.append(name) }
        }
        #expect(queue.nextDeadline() == 10)
        for timer in queue.popDue(now: 30) { timer.action() }
        #expect(fired == ["a", "b1", "b2", "c"])
        #expect(queue.nextDeadline() == 40)
    }

    @Test func cancelledTimersNeverFireAndDoNotHoldTheNextDeadline() {
        var queue = TimerQueue()
        var fired = 0
        let first = queue.schedule(at: 5) { fired += 1 }
        _ = queue.schedule(at: 50) { fired += 10 }
        first.cancel()
        #expect(queue.nextDeadline() == 50)
        for timer in queue.popDue(now: 100) { timer.action() }
        #expect(fired == 10)
        #expect(queue.nextDeadline() == nil)
    }

    @Test func manyRandomTimersComeOutSorted() {
        var queue = TimerQueue()
        var generator = SystemRandomNumberGenerator()
        var deadlines: [UInt64] = []
        for _ in 0..<1000 {
            let d = UInt64.random(in: 0..<10_000, using: &generator)
            deadlines.append(d)
            _ = queue.schedule(at: d) {}
        }
        let popped = queue.popDue(now: .max).map(\.deadline)
        #expect(popped == deadlines.sorted())
    }
}
