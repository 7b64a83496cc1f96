import Testing
import ZnetdConfig

@testable import ZnetdCore

private func backend(_ last: Int, weight: Int = 1, tier: Int = 0, max: Int? = nil) -> Backend {
    Backend(address: SocketAddress(ip: "10.0.0.\(last)", port: 80)!,
            settings: BackendTarget(address: .inet(host: "10.0.0.\(last)", port: 80), weight: weight,
                                    maxConnections: max, tier: tier))
}

private func selection(_ policy: BalancePolicy = .roundRobin, ticket: UInt64 = 0, now: UInt64 = 100_000_000_000,
                       currentTier: Int = 0, passive: UInt64? = nil) -> BackendSelection {
    BackendSelection(policy: policy, now: now, failbackAfter: 10_000_000_000, passiveRetryAfter: passive,
                     currentTier: currentTier, client: 42, ticket: ticket)
}

/// Takes `backend` down with `fall` failures at time `at`.
private func takeDown(_ backend: Backend, at: UInt64) {
    for _ in 0..<3 { _ = backend.record(success: false, rise: 2, fall: 3, now: at, reason: "test") }
}

@Test func roundRobinVisitsEachInTurnByWeight() {
    let pool = [backend(1, weight: 2), backend(2)]
    let picks = (0..<6).map { selection(ticket: UInt64($0)).choose(from: pool, excluding: [])!.address.host }
    #expect(picks == ["10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.1", "10.0.0.2"])
}

@Test func skipsDownFullAndTriedBackends() {
    let pool = [backend(1), backend(2, max: 1), backend(3), backend(4)]
    takeDown(pool[0], at: 1)
    _ = pool[1].tryReserve()
    for ticket in 0..<8 {
        let chosen = selection(ticket: UInt64(ticket)).choose(from: pool, excluding: [pool[2]])
        #expect(chosen === pool[3])
    }
}

@Test func lowestTierWithAUsableBackendWins() {
    let pool = [backend(1, tier: 0), backend(2, tier: 1), backend(3, tier: 2)]
    #expect(selection().choose(from: pool, excluding: []) === pool[0])
    takeDown(pool[0], at: 1)
    #expect(selection().choose(from: pool, excluding: []) === pool[1])
    takeDown(pool[1], at: 1)
    #expect(selection().choose(from: pool, excluding: []) === pool[2])
}

@Test func failbackWaitsUntilTheBetterTierHasBeenUpLongEnough() {
    let pool = [backend(1, tier: 0), backend(2, tier: 1)]
    takeDown(pool[0], at: 1_000)
    // Back up at 50 s (rise 2).
    for _ in 0..<2 { _ = pool[0].record(success: true, rise: 2, fall: 3, now: 50_000_000_000, reason: "test") }
    #expect(pool[0].isUp)
    let soon = selection(now: 55_000_000_000, currentTier: 1)
    #expect(soon.choose(from: pool, excluding: []) === pool[1])
    let later = selection(now: 60_000_000_000, currentTier: 1)
    #expect(later.choose(from: pool, excluding: []) === pool[0])
    // Already on tier 0: no wait.
    #expect(selection(now: 51_000_000_000, currentTier: 0).choose(from: pool, excluding: []) === pool[0])
}

@Test func passiveOnlyBackendsGetAnotherChanceAfterTheInterval() {
    let pool = [backend(1), backend(2, tier: 1)]
    takeDown(pool[0], at: 1_000_000_000)
    #expect(selection(now: 2_000_000_000, passive: 2_000_000_000).choose(from: pool, excluding: []) === pool[1])
    #expect(selection(now: 3_000_000_001, passive: 2_000_000_000).choose(from: pool, excluding: []) === pool[0])
    // That retry failed too: another interval before the next.
    _ = pool[0].record(success: false, rise: 2, fall: 3, now: 3_000_000_001, reason: "test")
    #expect(selection(now: 4_000_000_000, passive: 2_000_000_000).choose(from: pool, excluding: []) === pool[1])
    #expect(selection(now: 5_000_000_002, passive: 2_000_000_000).choose(from: pool, excluding: []) === pool[0])
}

@Test func everyBackendDownStillTriesTheBestTier() {
    let pool = [backend(1), backend(2, tier: 1)]
    takeDown(pool[0], at: 1)
    takeDown(pool[1], at: 1)
    #expect(selection().choose(from: pool, excluding: []) === pool[0])
    #expect(selection().choose(from: pool, excluding: [pool[0]]) === pool[1])
    #expect(selection().choose(from: pool, excluding: pool) == nil)
}

@Test func leastConnectionsTakesTheLightestForItsWeight() {
    let pool = [backend(1), backend(2, weight: 3), backend(3)]
    for _ in 0..<2 { _ = pool[0].tryReserve() }
    for _ in 0..<3 { _ = pool[1].tryReserve() }
    _ = pool[2].tryReserve()
    // Loads: 2/1, 3/3 = 1, 1/1 = 1: a tie between 2 and 3, broken by the ticket.
    let picks = Set((0..<6).map { selection(.leastConnections, ticket: UInt64($0)).choose(from: pool, excluding: [])! }
        .map { ObjectIdentifier($0) })
    #expect(picks == [ObjectIdentifier(pool[1]), ObjectIdentifier(pool[2])])
}

@Test func sourceHashIsStableAndMovesOnlyTheLostBackendsClients() {
    let pool = (1...5).map { backend($0) }
    var before: [UInt64: Backend] = [:]
    for client in UInt64(0)..<200 {
        var rules = selection(.sourceHash, ticket: client)
        rules.client = client &* 0x9e37_79b9
        before[client] = rules.choose(from: pool, excluding: [])
        #expect(rules.choose(from: pool, excluding: []) === before[client])
    }
    takeDown(pool[2], at: 1)
    for client in UInt64(0)..<200 {
        var rules = selection(.sourceHash, ticket: client)
        rules.client = client &* 0x9e37_79b9
        let after = rules.choose(from: pool, excluding: [])
        if before[client] !== pool[2] { #expect(after === before[client]) }
    }
}

@Test func healthNeedsFallFailuresAndRiseSuccessesInARow() {
    var health = BackendHealth()
    var changes: [Bool] = []
    for (now, success) in [false, false, true, false, false, false, true, true].enumerated() {
        changes.append(health.record(success: success, rise: 2, fall: 3, now: UInt64(now + 1)))
        if now == 5 { #expect(!health.isUp && health.changedAt == 6) }
    }
    #expect(changes == [false, false, false, false, false, true, false, true])
    #expect(health.isUp)
}
