/// Turns configuration files (or `--proxy` arguments) into one validated ``Configuration``.
///
/// Every entry point collects all problems it finds and throws them together: a configuration
/// with any problem yields no ``Configuration``.
public enum ConfigLoader {
    /// Reads and merges the given files in order.
    ///
    /// Top-level scalars (`threads`, `drain_timeout`, `pipe_size`, `unit_layout`): a later file overrides an
    /// earlier one. `defaults:` mappings merge key by key (later wins). Services: the same name in
    /// two files is an error naming both places. No files, or files without services, make a
    /// valid empty configuration.
    public static func load(files: [String]) throws(ConfigErrors) -> Configuration {
        try merge(files.map(decodeFile))
    }

    /// Reads and decodes one file; a file that cannot be read is one problem.
    static func decodeFile(_ file: String) -> DecodedFile {
        do throws(ConfigError) {
            return decode(try readConfigFile(file), file: file)
        } catch {
            return DecodedFile(name: file, contents: ConfigFileContents(), errors: [error])
        }
    }

    /// Parses one YAML text as if it were the file `file` (for tests and for `--config -`).
    public static func parse(yaml: String, file: String) throws(ConfigErrors) -> Configuration {
        try merge([decode(Array(yaml.utf8), file: file)])
    }

    /// One input (a file, or the `--proxy` arguments): what it says and the problems found in it
    /// alone.
    struct DecodedFile {
        var name: String
        var contents: ConfigFileContents
        var errors: [ConfigError]
    }

    static func decode(_ bytes: [UInt8], file: String) -> DecodedFile {
        do {
            var decoder = SchemaDecoder()
            let contents = decoder.fileContents(try YAMLNode.parseDocument(bytes, file: file))
            return DecodedFile(name: file, contents: contents, errors: decoder.errors)
        } catch {
            return DecodedFile(name: file, contents: ConfigFileContents(), errors: [error])
        }
    }

    /// Merges decoded inputs (see ``load(files:)``) and checks what only the whole can show (a
    /// service defined twice, listen addresses used twice, on-demand keys against `defaults:`,
    /// transient units used twice). Throws every problem, input by input and in order of line and
    /// column within each.
    static func merge(_ files: [DecodedFile]) throws(ConfigErrors) -> Configuration {
        var configuration = Configuration()
        var defaults = ServiceSettings()
        var services: [ServiceDefinition] = []
        var listeners: [ListenerDefinition] = []
        // Where each service name was first defined: a lookup per service, not a walk over all.
        var definedAt: [String: SourceLocation] = [:]
        var mergeErrors: [ConfigError] = []
        for file in files {
            let contents = file.contents
            if let threads = contents.threads { configuration.threads = threads }
            if let drainTimeout = contents.drainTimeout { configuration.drainTimeout = drainTimeout }
            if let pipeSize = contents.pipeSize { configuration.pipeSize = pipeSize }
            if let unitLayout = contents.unitLayout { configuration.unitLayout = unitLayout }
            if let control = contents.control { configuration.control = control }
            if let metricsListen = contents.metricsListen { configuration.metricsListen = metricsListen }
            defaults = contents.defaults.filling(from: defaults)
            for service in contents.services {
                if let first = definedAt[service.name] {
                    mergeErrors.append(ConfigError(
                        location: service.location, keyPath: "services".keyPath(appending: service.name),
                        message: "service '\(service.name)' is already defined at \(first); "
                            + "define each service once"))
                } else {
                    definedAt[service.name] = service.location
                    services.append(service)
                }
            }
            for listener in contents.listeners {
                if let first = listeners.first(where: { $0.name == listener.name }) {
                    mergeErrors.append(ConfigError(
                        location: listener.location, keyPath: "listeners".keyPath(appending: listener.name),
                        message: "listener '\(listener.name)' is already defined at \(first.location); "
                            + "define each listener once"))
                } else {
                    listeners.append(listener)
                }
            }
        }
        mergeErrors += listenConflicts(services, listeners)
        mergeErrors += routeProblems(services, listeners)
        mergeErrors += defaults.onDemand.defaultsClashes
        let onDemands = services.map { $0.onDemand(defaults: defaults.onDemand, errors: &mergeErrors) }
        mergeErrors += transientUnitConflicts(Array(zip(services, onDemands)))

        var errors: [ConfigError] = []
        var namesSeen: Set<String> = []
        for file in files {
            // Problems the merge found belong to the first input of their file's name.
            let isFirst = namesSeen.insert(file.name).inserted
            let own = isFirst && !mergeErrors.isEmpty ? mergeErrors.filter { $0.location?.file == file.name } : []
            if !file.errors.isEmpty || !own.isEmpty { errors += inLineOrder(file.errors + own) }
        }
        guard errors.isEmpty else { throw ConfigErrors(errors) }
        let resolved = zip(services, onDemands).compactMap { $0.resolved(defaults: defaults, onDemand: $1) }
        // Sorted by moving indices, not the services: a ServiceConfig is hundreds of bytes.
        configuration.services = resolved.indices.sorted { resolved[$0].name < resolved[$1].name }.map { resolved[$0] }
        configuration.listeners = listeners.map(\.resolved).sorted { $0.name < $1.name }
        return configuration
    }

    /// A problem for each listen address that overlaps one written before it, in this or another
    /// service or listener (see ``ListenAddress/overlaps(_:)``).
    private static func listenConflicts(
        _ services: [ServiceDefinition], _ listeners: [ListenerDefinition]
    ) -> [ConfigError] {
        var errors: [ConfigError] = []
        // Plain Listen values and owner names side by side, not (listen, owner) tuples: a tuple
        // type's metadata is built at run time on first use, which cost about as much as the
        // check (callgrind).
        var earlier: [ServiceDefinition.Listen] = []
        var earlierOwners: [String] = []
        func check(_ addresses: [ServiceDefinition.Listen], owner: String) {
            for listen in addresses {
                if let index = earlier.firstIndex(where: { $0.address.overlaps(listen.address) }) {
                    let other = earlier[index]
                    errors.append(ConfigError(
                        location: listen.location, keyPath: listen.keyPath,
                        message: "listen address '\(listen.address)' conflicts with '\(other.address)' "
                            + "of \(earlierOwners[index]) at \(other.location)"))
                }
                earlier.append(listen)
                earlierOwners.append(owner)
            }
        }
        for listener in listeners { check(listener.listen, owner: "listener '\(listener.name)'") }
        for service in services { check(service.listen, owner: "service '\(service.name)'") }
        return errors
    }

    /// A problem for each transient unit name already used by a service written before it: two
    /// services cannot start one unit.
    private static func transientUnitConflicts(_ services: [(ServiceDefinition, OnDemand?)]) -> [ConfigError] {
        var errors: [ConfigError] = []
        var earlier: [(unit: String, service: String, location: SourceLocation)] = []
        for (service, onDemand) in services {
            guard case .transientUnit(let unit, _, _)? = onDemand?.launcher else { continue }
            // Where the name comes from: `unit_name`, or the service's name.
            let written = service.settings.onDemand.written["unit_name"]
            let location = written?.value.location ?? service.location
            if let other = earlier.first(where: { $0.unit == unit }) {
                errors.append(ConfigError(
                    location: location, keyPath: written?.path ?? "services".keyPath(appending: service.name),
                    message: "transient unit '\(unit)' is also the unit of service '\(other.service)' "
                        + "at \(other.location); give each service its own unit_name"))
            }
            earlier.append((unit, service.name, location))
        }
        return errors
    }

    /// `errors` sorted by line and column (errors without a place first), keeping the order of
    /// errors at the same place.
    private static func inLineOrder(_ errors: [ConfigError]) -> [ConfigError] {
        errors.enumerated().sorted { a, b in
            let placeA = (a.element.location?.line ?? 0, a.element.location?.column ?? 0, a.offset)
            let placeB = (b.element.location?.line ?? 0, b.element.location?.column ?? 0, b.offset)
            return placeA < placeB
        }.map(\.element)
    }
}
