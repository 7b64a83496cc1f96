import Glibc
import ZnetdConfig

/// Which backend a new connection goes to: the lowest tier that has a usable backend, and
/// within it the one the policy picks. O(backends) per choice, no allocation.
///
/// Usable means: admitting (not disabled, removed or gone from DNS), below its max_connections,
/// not already tried by this connection, and up. A backend that passive checks alone took down
/// is usable again after `passiveRetryAfter`, so it can prove itself with a real connection.
/// A tier better than the one in use is used again only once its backend has been up for
/// `failbackAfter`. When no backend anywhere is up, the first tier with an admitting backend
/// that has room is tried anyway: a client is better served by a backend that might answer
/// than by none.
struct BackendSelection {
    var policy: BalancePolicy
    var now: UInt64
    var failbackAfter: UInt64
    /// `nil` when an active probe decides when a down backend is up again.
    var passiveRetryAfter: UInt64?
    /// The tier new connections went to last.
    var currentTier: Int
    /// A hash of the client's address (source-hash).
    var client: UInt64
    /// A number that differs per call (a shared counter): the round-robin position, the seed of
    /// random choices, the start of tie-breaking.
    var ticket: UInt64

    /// `backends` sorted by tier.
    func choose(from backends: [Backend], excluding tried: [Backend]) -> Backend? {
        chooseInFirstTier(backends, tried: tried, lastResort: false)
            ?? chooseInFirstTier(backends, tried: tried, lastResort: true)
    }

    private func usable(_ backend: Backend, tried: [Backend], lastResort: Bool) -> Bool {
        guard backend.admission == .open, !backend.isFull, !tried.contains(where: { $0 === backend }) else {
            return false
        }
        if lastResort { return true }
        let since = now &- backend.changedAt
        if !backend.isUp {
            // Each failed retry starts the wait again, so a dead backend costs one
            // connection attempt per interval, not one per client.
            guard let retry = passiveRetryAfter else { return false }
            return now &- max(backend.changedAt, backend.lastFailureAt) >= retry
        }
        return backend.tier >= currentTier || since >= failbackAfter
    }

    private func chooseInFirstTier(_ backends: [Backend], tried: [Backend], lastResort: Bool) -> Backend? {
        var start = 0
        while start < backends.count {
            let tier = backends[start].tier
            var end = start
            var count = 0
            var totalWeight = 0
            while end < backends.count && backends[end].tier == tier {
                if usable(backends[end], tried: tried, lastResort: lastResort) {
                    count += 1
                    totalWeight += backends[end].weight
                }
                end += 1
            }
            if count > 0 {
                let group = backends[start..<end]
                let isUsable = { (backend: Backend) in usable(backend, tried: tried, lastResort: lastResort) }
                return pick(in: group, count: count, totalWeight: totalWeight, isUsable: isUsable)
            }
            start = end
        }
        return nil
    }

    private func pick(in group: ArraySlice<Backend>, count: Int, totalWeight: Int,
                      isUsable: (Backend) -> Bool) -> Backend? {
        var fallback: Backend?
        switch policy {
        case .roundRobin:
            // Weighted: each backend holds `weight` consecutive positions of the cycle.
            var position = Int(ticket % UInt64(totalWeight))
            for backend in group where isUsable(backend) {
                fallback = backend
                position -= backend.weight
                if position < 0 { return backend }
            }
        case .leastConnections:
            // Ties go to the first from a rotating start, so equal backends share the load.
            let offset = Int(ticket % UInt64(group.count))
            for step in 0..<group.count {
                let backend = group[group.startIndex + (offset + step) % group.count]
                guard isUsable(backend) else { continue }
                if let best = fallback, !lighter(backend, than: best) { continue }
                fallback = backend
            }
        case .randomTwoChoices:
            let first = nth(Int(mix(ticket) % UInt64(count)), in: group, isUsable)
            let second = nth(Int(mix(ticket ^ 0x5bd1_e995) % UInt64(count)), in: group, isUsable)
            if let first, let second { return lighter(second, than: first) ? second : first }
            fallback = first ?? second
        case .sourceHash:
            // Weighted rendezvous hashing: the highest -weight / ln(u) wins, u uniform in (0, 1).
            var bestScore = -Double.infinity
            for backend in group where isUsable(backend) {
                let u = (Double(mix(client ^ backend.hashKey) >> 11) + 0.5) / Double(1 << 53)
                let score = -Double(backend.weight) / log(u)
                if score > bestScore {
                    bestScore = score
                    fallback = backend
                }
            }
        }
        return fallback
    }

    /// Fewer open connections for its weight.
    private func lighter(_ a: Backend, than b: Backend) -> Bool {
        a.active.load(ordering: .relaxed) * b.weight < b.active.load(ordering: .relaxed) * a.weight
    }

    private func nth(_ index: Int, in group: ArraySlice<Backend>, _ isUsable: (Backend) -> Bool) -> Backend? {
        var left = index
        var last: Backend?
        for backend in group where isUsable(backend) {
            last = backend
            if left == 0 { return backend }
            left -= 1
        }
        return last
    }
}
