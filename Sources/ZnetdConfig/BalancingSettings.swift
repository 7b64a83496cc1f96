/// The balancing keys as written in one mapping (a service, or `defaults:`), each `nil` where
/// not written (or written but invalid, which has been reported).
struct BalancingSettings {
    var policy: BalancePolicy?
    var health: HealthCheck?
    /// `.some(nil)`: written as `all`.
    var retries: Int??
    var failbackAfter: Duration?
    var failbackForce: Bool?
    var resolveInterval: Duration?
    /// `.some(nil)`: written as `none`.
    var proxyProtocol: ProxyProtocolVersion??

    /// These settings, with every key not written here taken from `fallback`.
    func filling(from fallback: BalancingSettings) -> BalancingSettings {
        BalancingSettings(
            policy: policy ?? fallback.policy,
            health: health ?? fallback.health,
            retries: retries ?? fallback.retries,
            failbackAfter: failbackAfter ?? fallback.failbackAfter,
            failbackForce: failbackForce ?? fallback.failbackForce,
            resolveInterval: resolveInterval ?? fallback.resolveInterval,
            proxyProtocol: proxyProtocol ?? fallback.proxyProtocol)
    }

    /// The settings with the built-in value for every key written nowhere.
    var resolved: Balancing {
        let standard = Balancing.standard
        return Balancing(
            policy: policy ?? standard.policy,
            health: health ?? standard.health,
            retries: retries ?? standard.retries,
            failbackAfter: failbackAfter ?? standard.failbackAfter,
            failbackForce: failbackForce ?? standard.failbackForce,
            resolveInterval: resolveInterval ?? standard.resolveInterval,
            proxyProtocol: proxyProtocol ?? standard.proxyProtocol)
    }
}
