/// The registrations a znetd holds now: who made each, and which are in their grace period.
///
/// A plain value, changed only on the control loop; `ControlPlane` applies what it says.
struct RegistrationBook {
    struct Entry {
        var registration: Registration
        /// The control connection it lives as long as (`register --wait`); nil: until removed.
        var owner: ObjectIdentifier?
        /// Removed, but its grace period runs: it may still come back.
        var inGrace = false
        /// Counts changes, so a grace timer of an earlier removal does not end a later one.
        var generation = 0
    }

    private(set) var entries: [Entry] = []

    func entry(_ key: Registration.Key) -> Entry? {
        entries.first { $0.registration.key == key }
    }

    /// Adds a registration or renews one (new options, new owner). True if it was in its grace
    /// period, which this ends.
    mutating func add(_ registration: Registration, owner: ObjectIdentifier?) -> Bool {
        if let index = entries.firstIndex(where: { $0.registration.key == registration.key }) {
            let wasInGrace = entries[index].inGrace
            entries[index].registration = registration
            entries[index].owner = owner
            entries[index].inGrace = false
            entries[index].generation += 1
            return wasInGrace
        }
        entries.append(Entry(registration: registration, owner: owner))
        return false
    }

    mutating func startGrace(_ key: Registration.Key) {
        guard let index = entries.firstIndex(where: { $0.registration.key == key }) else { return }
        entries[index].inGrace = true
        entries[index].owner = nil
        entries[index].generation += 1
    }

    @discardableResult
    mutating func remove(_ key: Registration.Key) -> Entry? {
        guard let index = entries.firstIndex(where: { $0.registration.key == key }) else { return nil }
        return entries.remove(at: index)
    }

    func owned(by owner: ObjectIdentifier) -> [Registration.Key] {
        entries.filter { $0.owner == owner }.map(\.registration.key)
    }

    func all(of service: String) -> [Entry] {
        entries.filter { $0.registration.service == service }
    }

    /// Registrations of `service` not in their grace period.
    func live(of service: String) -> [Entry] {
        all(of: service).filter { !$0.inGrace }
    }

    func hasGrace(of service: String) -> Bool {
        all(of: service).contains { $0.inGrace }
    }
}
