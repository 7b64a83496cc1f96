/// Up or down, from consecutive check results: `fall` failures in a row take an up backend
/// down, `rise` successes in a row bring a down one up. A pure value, so the rules are tested
/// without sockets.
struct BackendHealth: Sendable, Equatable {
    private(set) var isUp = true
    /// Consecutive results against the current state (failures while up, successes while down).
    private(set) var streak = 0
    /// When the state last changed (monotonic ns); 0 for "since the start".
    private(set) var changedAt: UInt64 = 0

    /// Records one result; returns true when the state changed.
    mutating func record(success: Bool, rise: Int, fall: Int, now: UInt64) -> Bool {
        guard success != isUp else {
            streak = 0
            return false
        }
        streak += 1
        guard streak >= (isUp ? fall : rise) else { return false }
        isUp.toggle()
        streak = 0
        changedAt = now
        return true
    }
}
