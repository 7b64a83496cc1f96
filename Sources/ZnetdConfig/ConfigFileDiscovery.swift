import Glibc

extension ConfigLoader {
    /// Where znetd looks for its configuration when no `--config` is given, most important
    /// first, as systemd looks for units: the administrator's `/etc/znetd`, then `/run/znetd`
    /// (written at run time, e.g. by a provisioning tool), then `/usr/lib/znetd` (shipped by
    /// packages). The daemon and the generator read the same files.
    public static let searchDirectories = ["/etc/znetd", "/run/znetd", "/usr/lib/znetd"]

    /// The default file list over several directories, most important first: `znetd.yaml` from
    /// the first directory that has one, then every `conf.d/*.yaml` name found in any of them,
    /// sorted by name (byte order, as the C locale sorts), each taken from the most important
    /// directory that has it. So `/etc/znetd/conf.d/web.yaml` replaces a package's
    /// `/usr/lib/znetd/conf.d/web.yaml`, and a symlink to `/dev/null` (or an empty file) there
    /// masks it, as with systemd's drop-ins.
    ///
    /// Masking files are left out of the list: an empty file configures nothing anyway, and
    /// `/dev/null` says so on purpose. Hidden names are skipped; missing directories contribute
    /// nothing, so an installation without configuration runs no services.
    public static func defaultFiles(directories: [String] = searchDirectories) -> [String] {
        var files: [String] = []
        if let main = directories.lazy.map({ joinPath($0, "znetd.yaml") }).first(where: { fileType($0) != nil }),
            !isMask(main)
        {
            files.append(main)
        }
        var chosen: [String: String] = [:]
        var masks: Set<String> = []
        for directory in directories.reversed() {  // the more important directory wins
            forEachDropIn(of: directory) { name, path, isMask in
                chosen[name] = path
                if isMask { masks.insert(name) } else { masks.remove(name) }
            }
        }
        let names = chosen.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        files += names.compactMap { name in masks.contains(name) ? nil : chosen[name] }
        return files
    }

    /// The files of one directory alone: `ROOT/znetd.yaml` if it exists, then `ROOT/conf.d/*.yaml`
    /// sorted by name. What `--config ROOT` reads.
    public static func defaultFiles(root: String) -> [String] {
        let main = joinPath(root, "znetd.yaml")
        var dropIns: [(name: String, path: String)] = []
        forEachDropIn(of: root) { name, path, _ in dropIns.append((name, path)) }
        dropIns.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        return (fileType(main) != nil ? [main] : []) + dropIns.map(\.path)
    }

    /// Expands a `--config` argument: a directory D means D/znetd.yaml (if present) and
    /// D/conf.d/*.yaml, as in ``defaultFiles(root:)``; anything else is a file, even one that does
    /// not exist (so that loading it reports why).
    public static func files(forConfigArgument path: String) -> [String] {
        fileType(path) == S_IFDIR ? defaultFiles(root: path) : [path]
    }
}

/// Calls `body` with each `*.yaml` entry of `DIRECTORY/conf.d` that is not a directory, unsorted,
/// and whether it masks its namesakes in less important directories: `/dev/null` (by a symlink)
/// or an empty regular file. One stat() per entry tells both (the generator reads dozens at every
/// daemon-reload); a callback, not an array of a type of its own, whose metadata the Swift
/// runtime would build at run time.
private func forEachDropIn(of directory: String, _ body: (_ name: String, _ path: String, _ isMask: Bool) -> Void) {
    let confD = joinPath(directory, "conf.d")
    for name in directoryEntries(confD) where name.hasSuffix(".yaml") && !name.hasPrefix(".") {
        let path = joinPath(confD, name)
        var status = stat()
        guard stat(path, &status) == 0 else { continue }
        switch status.st_mode & S_IFMT {
        case S_IFDIR: continue
        case S_IFCHR: body(name, path, true)  // /dev/null
        case S_IFREG: body(name, path, status.st_size == 0)
        default: body(name, path, false)
        }
    }
}

/// A file that masks its namesakes in less important directories: `/dev/null` (by a symlink) or
/// an empty regular file.
private func isMask(_ path: String) -> Bool {
    var status = stat()
    guard stat(path, &status) == 0 else { return false }
    switch status.st_mode & S_IFMT {
    case S_IFCHR: return true  // /dev/null
    case S_IFREG: return status.st_size == 0
    default: return false
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
