import Testing
import ZnetdConfig

/// A YAML document that writes the key at `path` (`NAME` as service `web`, `KEY[]` as a list of
/// one mapping) with a junk value.
private func document(writing path: String) -> String {
    var yaml = ""
    var indent = 0
    for key in path.split(separator: ".") {
        let name = key == "NAME" ? "web" : String(key)
        if name.hasSuffix("[]") {
            yaml += String(repeating: "  ", count: indent) + name.dropLast(2) + ":\n"
            indent += 1
            yaml += String(repeating: "  ", count: indent) + "- "
            indent += 1
            continue
        }
        if !yaml.hasSuffix("- ") { yaml += String(repeating: "  ", count: indent) }
        yaml += name + ":\n"
        indent += 1
    }
    return String(yaml.dropLast()) + " \"junk?\"\n"
}

/// Every listed key path names a key the decoder accepts: writing it gives no "unknown key"
/// error (its junk value may give others).
@Test(arguments: ConfigSchema.keyPaths)
func listedKeyIsAccepted(path: String) {
    let unknown = problems(document(writing: path)).filter { $0.contains("unknown") }
    #expect(unknown.isEmpty, "\(path): \(unknown)")
}

@Test func unlistedKeyIsRejected() {
    #expect(problems(document(writing: "services.NAME.no_such_key")).contains { $0.contains("unknown key") })
    #expect(problems(document(writing: "services.NAME.keepalive.no_such_key")).contains { $0.contains("unknown key") })
}

@Test func keyPathsCoverEveryLevel() {
    let paths = ConfigSchema.keyPaths
    for expected in [
        "threads", "drain_timeout", "pipe_size", "defaults", "services",
        "services.NAME.listen", "services.NAME.target", "services.NAME.keepalive.count",
        "services.NAME.hooks.start", "services.NAME.unit_properties.MemoryMax",
        "defaults.stop_after", "defaults.idle_timeout", "services.NAME.targets[].weight",
        "services.NAME.health.fall", "defaults.health.rise",
    ] {
        #expect(paths.contains(expected), "\(expected) missing")
    }
    #expect(!paths.contains("defaults.listen"))
    #expect(!paths.contains("defaults.command"))
    #expect(Set(paths).count == paths.count)
}
