// Temporary until the config parser lands.
public func formatDuration(_ d: Duration) -> String { "\(d)" }
public struct ConfigErrors: Error, Sendable, CustomStringConvertible { public var errors: [String]; public var description: String { errors.joined(separator: "\n") } }
public enum ConfigLoader {
    public static func load(files: [String]) throws(ConfigErrors) -> Configuration { throw ConfigErrors(errors: ["not yet"]) }
    public static func defaultFiles(root: String = "/etc/znetd") -> [String] { [] }
    public static func files(forConfigArgument path: String) -> [String] { [path] }
    public static func proxies(_ specs: [String]) throws(ConfigErrors) -> Configuration {
        var services: [ServiceConfig] = []
        for (i, spec) in specs.enumerated() {
            let w = spec.split(separator: " ").map(String.init)
            func hp(_ s: String) -> (String, UInt16) { let p = s.split(separator: ":"); return (String(p[0]), UInt16(p[1])!) }
            let (lh, lp) = hp(w[0]); let (th, tp) = hp(w[1])
            services.append(ServiceConfig(name: "proxy\(i+1)", listen: [.inet(host: lh, port: lp)], target: .inet(host: th, port: tp), logConnections: true))
        }
        return Configuration(services: services)
    }
}
extension Configuration { public func normalizedYAML() -> String { "\(self)" } }
