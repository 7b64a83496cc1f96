import ZnetdConfig

/// The problems ``ConfigLoader/parse(yaml:file:)`` reports for `yaml`, read as file
/// `test.yaml`, one `FILE:LINE:COL: KEYPATH: MESSAGE` line each; empty when it parses.
func problems(_ yaml: String, file: String = "test.yaml") -> [String] {
    do {
        _ = try ConfigLoader.parse(yaml: yaml, file: file)
        return []
    } catch {
        return error.errors.map(\.description)
    }
}

/// `yaml` with a service `web` whose listen and target are valid, followed by `lines` (each
/// indented as a key of the service). The service starts on line 2, its extra keys on line 5.
func webService(_ lines: String...) -> String {
    webService(lines: lines)
}

func webService(lines: [String]) -> String {
    """
    services:
      web:
        listen: "127.0.0.1:8080"
        target: "127.0.0.1:9090"

    """ + lines.map { "    " + $0 + "\n" }.joined()
}

/// `webService` with the keys that make it a transient unit running `/usr/bin/app` on lines 5 and
/// 6, followed by `lines` from line 7.
func transientService(_ lines: String...) -> String {
    webService(lines: ["launcher: transient-unit", "command: [/usr/bin/app]"] + lines)
}

/// The on-demand settings of service `web` in `yaml`.
func webOnDemand(_ yaml: String) throws -> OnDemand? {
    try ConfigLoader.parse(yaml: yaml, file: "test.yaml").service(named: "web")?.onDemand
}

extension Configuration {
    /// The configuration with service locations removed, to compare settings only.
    var withoutLocations: Configuration {
        var copy = self
        for index in copy.services.indices { copy.services[index].location = nil }
        return copy
    }
}
