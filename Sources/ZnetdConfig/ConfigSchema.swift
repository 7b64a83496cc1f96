/// The key names the configuration accepts, read from the same tables the decoder checks keys
/// against, so that documentation can be tested against the code (`znetd check --list-keys`
/// prints ``keyPaths``; the man page test compares them with znetd.yaml(5)).
///
/// A new mapping of fixed keys in the schema belongs here too, next to the table that lists them.
public enum ConfigSchema {
    /// Every accepted key as a dotted path, in schema order: `threads`, `services.NAME.listen`,
    /// `services.NAME.keepalive.idle`, `services.NAME.unit_properties.MemoryMax`, and for
    /// `defaults:` the keys it may set (`defaults.stop_after`). `NAME` stands for any service
    /// name; mappings of free names (`environment`) contribute only their own key.
    public static var keyPaths: [String] {
        var paths: [String] = []
        for key in SchemaDecoder.topLevelKeys {
            switch key {
            case "services":
                paths.append(key)
                paths += serviceKeyPaths(prefix: "services.NAME", keys: SchemaDecoder.serviceKeys)
            case "control":
                paths.append(key)
                paths += SchemaDecoder.controlKeys.map { key + "." + $0 }
            case "defaults":
                paths.append(key)
                paths += serviceKeyPaths(prefix: "defaults", keys: SchemaDecoder.defaultsKeys)
            case "listeners":
                paths.append(key)
                for listenerKey in SchemaDecoder.listenerKeys {
                    let path = "listeners.NAME." + listenerKey
                    paths.append(path)
                    guard listenerKey == "tls" else { continue }
                    for tlsKey in SchemaDecoder.tlsKeys {
                        paths.append(path + "." + tlsKey)
                        paths += SchemaDecoder.certificateKeys.map { path + "." + tlsKey + "[]." + $0 }
                    }
                }
            default:
                paths.append(key)
            }
        }
        return paths
    }

    /// The keys of a service (or of `defaults:`) under `prefix`, with their nested keys.
    private static func serviceKeyPaths(prefix: String, keys: [String]) -> [String] {
        var paths: [String] = []
        for key in keys {
            let path = prefix + "." + key
            paths.append(path)
            switch key {
            case "keepalive": paths += SchemaDecoder.keepaliveKeys.map { path + "." + $0 }
            case "hooks": paths += SchemaDecoder.hookKeys.map { path + "." + $0 }
            case "unit_properties": paths += UnitPropertySchema.all.map { path + "." + $0.name }
            case "targets": paths += SchemaDecoder.backendKeys.map { path + "[]." + $0 }
            case "routes": paths += SchemaDecoder.routeKeys.map { path + "[]." + $0 }
            case "health": paths += SchemaDecoder.healthKeys.map { path + "." + $0 }
            default: break
            }
        }
        return paths
    }
}
