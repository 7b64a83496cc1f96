import Glibc

/// Finds the program a command names: argv[0] as given when it contains '/', otherwise the
/// first PATH directory holding an executable file of that name (as execvp would, but in
/// znetd, so a miss is a clear error before anything is forked).
public enum ExecutableSearch {
    /// systemd's default PATH for services, used when the environment sets none.
    public static let defaultSearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// The value of PATH in a "NAME=value" list (the last one wins), or the default.
    public static func searchPath(in environment: [String]) -> String {
        environment.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? defaultSearchPath
    }

    /// The path to exec for `program`. Names with '/' are returned unchanged (a relative one
    /// is relative to the working directory); exec reports whether they run. Relative and
    /// empty PATH entries are skipped: they would depend on the working directory.
    public static func resolve(_ program: String, searchPath: String) throws(SpawnError) -> String {
        if program.isEmpty { throw SpawnError(.emptyCommand) }
        if program.contains("/") { return program }
        for directory in searchPath.split(separator: ":") where directory.hasPrefix("/") {
            let candidate = directory.hasSuffix("/") ? "\(directory)\(program)" : "\(directory)/\(program)"
            if isExecutableFile(candidate) { return candidate }
        }
        throw SpawnError(.findExecutable(name: program, searchPath: searchPath))
    }

    /// For `znetd check`: `resolve`, then also verify that an explicit path exists, is a file
    /// and is executable. Checked as znetd's own user: a command run as another user may still
    /// be refused by exec.
    public static func check(_ program: String, searchPath: String) throws(SpawnError) -> String {
        let path = try resolve(program, searchPath: searchPath)
        var info = stat()
        guard stat(path, &info) == 0 else { throw SpawnError(.checkExecutable(path: path), errno: errno) }
        guard info.st_mode & S_IFMT != S_IFDIR else { throw SpawnError(.checkExecutable(path: path), errno: EISDIR) }
        guard info.st_mode & S_IFMT == S_IFREG, access(path, X_OK) == 0 else {
            throw SpawnError(.checkExecutable(path: path), errno: EACCES)
        }
        return path
    }

    static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(path, X_OK) == 0
    }
}
