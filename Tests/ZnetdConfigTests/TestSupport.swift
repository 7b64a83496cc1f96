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
    """
    services:
      web:
        listen: "127.0.0.1:8080"
        target: "127.0.0.1:9090"

    """ + lines.map { "    " + $0 + "\n" }.joined()
}

extension Configuration {
    /// The configuration with service locations removed, to compare settings only.
    var withoutLocations: Configuration {
        var copy = self
        for index in copy.services.indices { copy.services[index].location = nil }
        return copy
    }
}
