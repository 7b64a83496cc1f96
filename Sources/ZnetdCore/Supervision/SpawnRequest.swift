import Glibc
public import ZnetdConfig

/// Everything needed to start one child process, decided by znetd before forking.
public struct SpawnRequest: Sendable {
    /// argv[0] names the program: a path (relative ones from `workingDirectory`), or a name
    /// looked up in the PATH of `environment`. It is passed to the program as written.
    public var argv: [String]
    /// The child's whole environment, "NAME=value". LISTEN_* entries are always dropped;
    /// with `handOff`, spawn sets LISTEN_FDS, LISTEN_FDNAMES and (in the child) LISTEN_PID.
    public var environment: [String]
    /// nil: the child starts in znetd's working directory.
    public var workingDirectory: String?
    /// nil: the child runs as znetd's user and groups.
    public var identity: ProcessIdentity?
    /// fds for the child's 0, 1 and 2; nil: /dev/null. znetd keeps its copies (close them
    /// after spawning if they were opened for the child).
    public var standardInput: Int32?
    public var standardOutput: Int32?
    public var standardError: Int32?
    /// Sockets the child gets as fds 3, 4, ... (socket activation, sd_listen_fds(3)).
    public var handOff: [HandOffSocket]

    public init(argv: [String], environment: [String], workingDirectory: String? = nil,
                identity: ProcessIdentity? = nil, standardInput: Int32? = nil,
                standardOutput: Int32? = nil, standardError: Int32? = nil,
                handOff: [HandOffSocket] = []) {
        self.argv = argv
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.identity = identity
        self.standardInput = standardInput
        self.standardOutput = standardOutput
        self.standardError = standardError
        self.handOff = handOff
    }

    /// The request for a configured command: znetd's environment (less its own systemd
    /// variables) plus the command's, its user and group resolved, stdin from /dev/null and
    /// stdout and stderr to `output`.
    public init(command: Command, output: JournalStream, handOff: [HandOffSocket] = []) throws(SpawnError) {
        var environment = ChildEnvironment.merging(ChildEnvironment.inherited(), command.environment)
        if let stream = output.environmentEntry { environment = ChildEnvironment.merging(environment, [stream]) }
        self.init(argv: command.argv, environment: environment,
                  workingDirectory: command.workingDirectory,
                  identity: try ProcessIdentity.resolve(user: command.user, group: command.group),
                  standardOutput: output.fd, standardError: output.fd, handOff: handOff)
    }

    /// What `znetd check` verifies before anything starts: the program is found and
    /// executable, the user and group exist, the working directory is a directory.
    /// Returns the resolved program path.
    public static func check(_ command: Command) throws(SpawnError) -> String {
        guard let program = command.argv.first else { throw SpawnError(.emptyCommand) }
        _ = try ProcessIdentity.resolve(user: command.user, group: command.group)
        if let directory = command.workingDirectory {
            var info = stat()
            guard stat(directory, &info) == 0 else { throw SpawnError(.checkWorkingDirectory(path: directory), errno: errno) }
            guard info.st_mode & S_IFMT == S_IFDIR else { throw SpawnError(.checkWorkingDirectory(path: directory), errno: ENOTDIR) }
        }
        let environment = ChildEnvironment.merging(ChildEnvironment.inherited(), command.environment)
        var path = program
        // A relative path runs from the working directory, so it is checked from there.
        if let directory = command.workingDirectory, program.contains("/"), !program.hasPrefix("/") {
            path = "\(directory)/\(program)"
        }
        return try ExecutableSearch.check(path, searchPath: ExecutableSearch.searchPath(in: environment))
    }
}

/// A listening socket handed to a child, and the name it gets in LISTEN_FDNAMES.
public struct HandOffSocket: Sendable, Hashable {
    public var fd: Int32
    public var name: String

    public init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }

    /// As systemd's FileDescriptorName=: 1 to 255 printable ASCII characters, no ':'.
    public var hasValidName: Bool {
        !name.isEmpty && name.utf8.count <= 255 && name.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7f && $0 != UInt8(ascii: ":") }
    }
}
