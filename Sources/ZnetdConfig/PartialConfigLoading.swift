/// A configuration loaded with its broken files left out: what `znetd run --service` and the
/// generator use, so that a mistake in one file does not take down the services of the others.
public struct PartialConfiguration: Sendable {
    /// The configuration of the files that had no problems.
    public var configuration: Configuration
    /// Each file left out, with every problem found in it.
    public var skipped: [(file: String, errors: [ConfigError])]

    /// One line per skipped file and one per problem, for the log.
    public var warnings: [String] {
        skipped.flatMap { skipped in
            ["\(skipped.file): has errors; its services are left out"] + skipped.errors.map(\.description)
        }
    }
}

extension ConfigLoader {
    /// Like ``load(files:)``, but a file with problems is left out instead of failing the whole:
    /// first the files that are wrong on their own (unreadable, invalid YAML, bad values), then
    /// the files the merge of the rest blames (a service or listen address already defined in an
    /// earlier file), until what is left merges cleanly.
    ///
    /// Throws only when a problem cannot be pinned to one file.
    public static func loadSkippingBrokenFiles(files: [String]) throws(ConfigErrors) -> PartialConfiguration {
        var decoded = files.map(decodeFile)
        var skipped: [(file: String, errors: [ConfigError])] = decoded.filter { !$0.errors.isEmpty }
            .map { ($0.name, $0.errors) }
        decoded.removeAll { !$0.errors.isEmpty }
        while true {
            do {
                let configuration = try merge(decoded)
                return PartialConfiguration(configuration: configuration, skipped: skipped)
            } catch {
                let blamed = Set(error.errors.compactMap { $0.location?.file })
                // A problem without a file, or in a file already left out: nothing left to try.
                guard error.errors.allSatisfy({ $0.location != nil }),
                    decoded.contains(where: { blamed.contains($0.name) })
                else { throw error }
                for file in decoded where blamed.contains(file.name) {
                    skipped.append((file.name, error.errors.filter { $0.location?.file == file.name }))
                }
                decoded.removeAll { blamed.contains($0.name) }
            }
        }
    }
}
