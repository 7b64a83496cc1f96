public import ArgumentParser
import Glibc
public import Logging
import ZnetdConfig
import ZnetdCore
import ZnetdGenerator

@main
struct ZnetdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "znetd",
        abstract: "Socket-activated TCP proxy and on-demand super-server for systemd.",
        discussion: """
            znetd forwards connections from listening sockets (its own, or systemd's through \
            socket activation) to backends, zero-copy with splice(2). See znetd(8) and znetd.yaml(5).
            """,
        version: ZnetdVersion.string,
        subcommands: [Run.self, Check.self, Generate.self, Status.self, Metrics.self, Register.self, Unregister.self, Version.self],
        defaultSubcommand: Run.self
    )
}

/// Where the configuration comes from: files, or one-line proxies.
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .customLong("config"),
            help: ArgumentHelp("A configuration file, or a directory holding znetd.yaml and conf.d/*.yaml (repeatable; default /etc/znetd).",
                               valueName: "path"))
    var configPaths: [String] = []

    @Option(name: .customLong("proxy"),
            help: ArgumentHelp("Forward without a configuration file: \"LISTEN TARGET\", e.g. \":8080 127.0.0.1:9090\" (repeatable).",
                               valueName: "listen target"))
    var proxies: [String] = []

    @Option(name: .customLong("service"),
            help: ArgumentHelp("Run or check only this service of the configuration (repeatable).", valueName: "name"))
    var onlyServices: [String] = []

    @Option(name: .customLong("listener"),
            help: ArgumentHelp("Run or check only this shared listener of the configuration (repeatable; with --service, only the listeners named).",
                               valueName: "name"))
    var onlyListeners: [String] = []

    /// `--service` or `--listener`: the unit runs only what it names.
    private var selects: Bool { !onlyServices.isEmpty || !onlyListeners.isEmpty }

    func validate() throws {
        if !configPaths.isEmpty && !proxies.isEmpty {
            throw ValidationError("use either --config or --proxy, not both")
        }
    }

    /// Loads (or reloads) the configuration these options name.
    ///
    /// With `--service`, a file with errors that does not define one of those services is left
    /// out, each of its problems passed to `warn`: a mistake in another service's file must not
    /// stop (or, at a reload, freeze) this one. Without it every problem is fatal.
    func load(warn: (String) -> Void) throws(ConfigErrors) -> Configuration {
        var configuration: Configuration
        if !proxies.isEmpty {
            configuration = try ConfigLoader.proxies(proxies)
        } else {
            let files = configPaths.isEmpty
                ? ConfigLoader.defaultFiles()
                : configPaths.flatMap { ConfigLoader.files(forConfigArgument: $0) }
            if !selects {
                configuration = try ConfigLoader.load(files: files)
            } else {
                let partial = try ConfigLoader.loadSkippingBrokenFiles(files: files)
                let missing = onlyServices.contains { partial.configuration.service(named: $0) == nil }
                    || onlyListeners.contains { partial.configuration.listener(named: $0) == nil }
                if missing && !partial.skipped.isEmpty {
                    // The service is probably in a broken file: its problems are the answer.
                    throw ConfigErrors(partial.skipped.flatMap(\.errors))
                }
                partial.warnings.forEach(warn)
                configuration = partial.configuration
            }
        }
        if selects {
            configuration.services = configuration.services.filter { onlyServices.contains($0.name) }
            configuration.listeners = configuration.listeners.filter { onlyListeners.contains($0.name) }
        }
        return configuration
    }

    /// Loads the configuration, or prints every error and exits 1 (also for an unknown --service).
    func loadOrExit(
        askSystemd: Bool = false, warn: (String) -> Void = { printError("warning: \($0)") }
    ) throws -> Configuration {
        let configuration: Configuration
        do {
            configuration = try load(warn: warn)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        let unknown = onlyServices.filter { configuration.service(named: $0) == nil }
        guard unknown.isEmpty else {
            printError("no such service in the configuration: \(unknown.joined(separator: ", "))")
            throw ExitCode(1)
        }
        let unknownListeners = onlyListeners.filter { configuration.listener(named: $0) == nil }
        guard unknownListeners.isEmpty else {
            printError("no such listener in the configuration: \(unknownListeners.joined(separator: ", "))")
            throw ExitCode(1)
        }
        let problems = Preflight.problems(in: configuration, askSystemd: askSystemd)
        guard problems.isEmpty else {
            printError(problems.joined(separator: "\n"))
            throw ExitCode(1)
        }
        return configuration
    }
}

extension ZnetdCommand {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the proxy (the default command).")

        @OptionGroup var options: ConfigurationOptions

        @Option(help: ArgumentHelp("Event-loop threads (default: the configuration's threads, else one per CPU).", valueName: "n"))
        var threads: Int?

        @Option(help: ArgumentHelp("Least severe level logged: trace, debug, info, notice, warning, error or critical.", valueName: "level"))
        var logLevel: Logger.Level = .info

        @Option(name: .customLong("control-socket"),
                help: ArgumentHelp("Serve the control socket here (default: control: socket:, else $RUNTIME_DIRECTORY/control.sock).",
                                   valueName: "path"))
        var controlSocket: String?

        @Option(name: .customLong("state-directory"),
                help: ArgumentHelp("Keep persistent registrations here (default: $STATE_DIRECTORY).", valueName: "dir"))
        var stateDirectory: String?

        func validate() throws {
            if let threads, !(1...256).contains(threads) {
                throw ValidationError("--threads must be between 1 and 256")
            }
        }

        func run() throws {
            let level = logLevel
            LoggingSystem.bootstrap { _ in JournalLogHandler(level: level) }
            let logger = Logger(label: "znetd")
            let configuration = try options.loadOrExit { logger.warning("\($0)") }
            if configuration.services.isEmpty && configuration.listeners.isEmpty {
                logger.warning("the configuration has no services; waiting for a reload")
            }
            do {
                let options = options
                let control = ControlPlane.Options(socketPath: controlSocket.map(absolutePath),
                                                   stateDirectory: stateDirectory.map(absolutePath))
                let daemon = try Daemon(configuration: configuration, threads: threads, logger: logger,
                                        control: control) {
                    () throws(ConfigErrors) -> Configuration in
                    try options.load { logger.warning("\($0)") }
                }
                try daemon.run()
            } catch {
                logger.critical("\(error)")
                throw ExitCode(1)
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the configuration and print it with every default filled in.")

        @OptionGroup var options: ConfigurationOptions

        /// For the man page test: the configuration keys znetd accepts, from the schema itself.
        @Flag(help: .hidden)
        var listKeys = false

        func run() throws {
            if listKeys {
                for path in ConfigSchema.keyPaths { print(path) }
                return
            }
            let configuration = try options.loadOrExit(askSystemd: true)
            let text = configuration.normalizedYAML()
            print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the systemd units for the configuration into a directory (what znetd-generator does at boot).",
            discussion: """
                For static units: write them to /etc/systemd/system and enable the sockets, or \
                review them first. Units are replaced, nothing else in the directory is touched; \
                each socket gets a sockets.target.wants/ link. The units run znetd with the same \
                --config arguments, so reloads read the same files.
                """)

        @Option(name: .customLong("config"),
                help: ArgumentHelp("A configuration file or directory (repeatable; default: /etc/znetd, /run/znetd and /usr/lib/znetd, as the generator reads them).",
                                   valueName: "path"))
        var configPaths: [String] = []

        @Option(name: .customLong("output"),
                help: ArgumentHelp("The directory the units are written to (created if missing).", valueName: "dir"))
        var output: String

        @Flag(help: ArgumentHelp("Override the configuration's unit_layout: one znetd-NAME.service per service, or one znetd.service for all."))
        var layout: UnitLayout?

        @Option(name: .customLong("znetd-path"),
                help: ArgumentHelp("The znetd binary the units run.", valueName: "path"))
        var znetdPath = "/usr/bin/znetd"

        func run() throws {
            let paths = configPaths.map(absolutePath)
            let files = paths.isEmpty
                ? ConfigLoader.defaultFiles()
                : paths.flatMap { ConfigLoader.files(forConfigArgument: $0) }
            let configuration: Configuration
            do {
                configuration = try ConfigLoader.load(files: files)
            } catch {
                printError("\(error)")
                throw ExitCode(1)
            }
            let options = GeneratorOptions(
                mode: layout,
                znetdPath: znetdPath, configArguments: paths, sourceFiles: files)
            let units = generateUnits(configuration, options: options)
            if mkdir(output, 0o755) != 0 && errno != EEXIST {
                printError("cannot create '\(output)': \(String(cString: strerror(errno)))")
                throw ExitCode(1)
            }
            do {
                try writeUnits(units, to: output)
            } catch {
                printError("cannot write units: \(error)")
                throw ExitCode(1)
            }
            for unit in units { print(output.hasSuffix("/") ? output + unit.name : output + "/" + unit.name) }
        }
    }

    struct Version: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the version.")

        func run() {
            print("znetd \(ZnetdVersion.string)")
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// `--shared` and `--per-service` of `znetd generate`.
extension UnitLayout: EnumerableFlag {}

func printError(_ text: String) {
    var line = text
    if !line.hasSuffix("\n") { line += "\n" }
    var bytes = Array(line.utf8)
    _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

/// `path` made absolute against the working directory: units run from `/`.
func absolutePath(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    guard let cwd = getcwd(nil, 0) else { return path }
    defer { free(cwd) }
    let base = String(cString: cwd)
    return (base.hasSuffix("/") ? base : base + "/") + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
}
