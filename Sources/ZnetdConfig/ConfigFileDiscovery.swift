import Glibc

extension ConfigLoader {
    /// The default file list: `ROOT/znetd.yaml` if it exists, then the files `ROOT/conf.d/*.yaml`
    /// sorted by name (byte order, as the C locale sorts them). ROOT defaults to `/etc/znetd`.
    ///
    /// Hidden files and directories are skipped. A missing root or `conf.d` just contributes
    /// nothing: an installation without configuration runs no services.
    public static func defaultFiles(root: String = "/etc/znetd") -> [String] {
        let main = joinPath(root, "znetd.yaml")
        let confD = joinPath(root, "conf.d")
        let dropIns = directoryEntries(confD)
            .filter { $0.hasSuffix(".yaml") && !$0.hasPrefix(".") }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .map { joinPath(confD, $0) }
            .filter { fileType($0).map { $0 != S_IFDIR } ?? false }
        return (fileType(main) != nil ? [main] : []) + dropIns
    }

    /// Expands a `--config` argument: a directory D means D/znetd.yaml (if present) and
    /// D/conf.d/*.yaml, as in ``defaultFiles(root:)``; anything else is a file, even one that does
    /// not exist (so that loading it reports why).
    public static func files(forConfigArgument path: String) -> [String] {
        fileType(path) == S_IFDIR ? defaultFiles(root: path) : [path]
    }
}

private func joinPath(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}

/// The `S_IFMT` bits of what `path` names, following symlinks; `nil` when it does not exist.
private func fileType(_ path: String) -> mode_t? {
    var status = stat()
    guard stat(path, &status) == 0 else { return nil }
    return status.st_mode & S_IFMT
}

/// The names in a directory, without `.` and `..`; empty when it cannot be read.
private func directoryEntries(_ path: String) -> [String] {
    guard let directory = opendir(path) else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}
