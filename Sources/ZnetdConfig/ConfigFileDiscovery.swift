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
        var chosen: [String: DropIn] = [:]
        for directory in directories.reversed() {  // the more important directory wins
            for dropIn in dropIns(of: directory) { chosen[dropIn.name] = dropIn }
        }
        let names = chosen.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        files += names.compactMap { name in chosen[name].flatMap { $0.isMask ? nil : $0.path } }
        return files
    }

    /// The files of one directory alone: `ROOT/znetd.yaml` if it exists, then `ROOT/conf.d/*.yaml`
    /// sorted by name. What `--config ROOT` reads.
    public static func defaultFiles(root: String) -> [String] {
        let main = joinPath(root, "znetd.yaml")
        let dropIns = dropIns(of: root)
            .sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
            .map(\.path)
        return (fileType(main) != nil ? [main] : []) + dropIns
    }

    /// Expands a `--config` argument: a directory D means D/znetd.yaml (if present) and
    /// D/conf.d/*.yaml, as in ``defaultFiles(root:)``; anything else is a file, even one that does
    /// not exist (so that loading it reports why).
    public static func files(forConfigArgument path: String) -> [String] {
        fileType(path) == S_IFDIR ? defaultFiles(root: path) : [path]
    }
}

/// One `*.yaml` entry of a `conf.d` directory.
private struct DropIn {
    var name: String
    var path: String
    /// It masks its namesakes in less important directories: `/dev/null` (by a symlink) or an
    /// empty regular file.
    var isMask: Bool
}

/// The `*.yaml` entries of `DIRECTORY/conf.d` that are not directories, unsorted. One stat() per
/// entry tells both (the generator reads dozens at every daemon-reload).
private func dropIns(of directory: String) -> [DropIn] {
    let confD = joinPath(directory, "conf.d")
    return directoryEntries(confD).compactMap { name in
        guard name.hasSuffix(".yaml") && !name.hasPrefix(".") else { return nil }
        let path = joinPath(confD, name)
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        switch status.st_mode & S_IFMT {
        case S_IFDIR: return nil
        case S_IFCHR: return DropIn(name: name, path: path, isMask: true)  // /dev/null
        case S_IFREG: return DropIn(name: name, path: path, isMask: status.st_size == 0)
        default: return DropIn(name: name, path: path, isMask: false)
        }
    }
}

/// A file that masks its namesakes in less important directories (see ``DropIn/isMask``).
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
