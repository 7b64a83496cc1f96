/// Counts of durations in fixed buckets, as a Prometheus histogram exposes them: cumulative
/// counts per upper bound, their sum and their number. Recorded on the control loop only.
public struct DurationHistogram: Sendable, Equatable {
    /// Upper bounds in seconds: wake-ups take from milliseconds (a socket) to a minute (a VM).
    public static let bounds: [Double] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    /// Per bound, the durations at most that long (not cumulative; `cumulative` is).
    public private(set) var counts = [UInt64](repeating: 0, count: DurationHistogram.bounds.count)
    public private(set) var count: UInt64 = 0
    public private(set) var sumMicroseconds: UInt64 = 0

    public init() {}

    public mutating func record(microseconds: UInt64) {
        let seconds = Double(microseconds) / 1_000_000
        if let index = DurationHistogram.bounds.firstIndex(where: { seconds <= $0 }) { counts[index] += 1 }
        count += 1
        sumMicroseconds &+= microseconds
    }

    /// Durations at most each bound long, as `le` buckets count them.
    public var cumulative: [UInt64] {
        var total: UInt64 = 0
        return counts.map { total += $0; return total }
    }
}
