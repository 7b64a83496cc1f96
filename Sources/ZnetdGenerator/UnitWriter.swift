import Glibc

/// Why units could not be written: the path and the errno text.
public struct UnitWriteError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

/// Writes units into a generator output directory (which exists): each unit as a file (mode
/// 0644, replacing one of the same name), and for each target in its `wantedBy` a symlink
/// `TARGET.wants/NAME` -> `../NAME`.
///
/// Names are resolved against a descriptor of the directory (openat, mkdirat, symlinkat): the
/// kernel walks the directory's path once, not once per file; each unit is one write().
public func writeUnits(_ units: [GeneratedUnit], to directory: String) throws(UnitWriteError) {
    guard !units.isEmpty else { return }
    let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
    let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard directoryFD >= 0 else { throw failure(base) }
    defer { close(directoryFD) }
    var madeDirectories: Set<String> = []
    for unit in units {
        // systemd hands a generator empty directories: create without truncating (measurably
        // cheaper on tmpfs), and replace only when the file is there (`znetd generate`).
        var fd = openat(directoryFD, unit.name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 && errno == EEXIST { fd = openat(directoryFD, unit.name, O_WRONLY | O_TRUNC | O_CLOEXEC) }
        guard fd >= 0 else { throw failure(base + "/" + unit.name) }
        var text = unit.text
        let writeErrno: Int32? = text.withUTF8 { bytes in
            var written = 0
            while written < bytes.count {
                let n = write(fd, bytes.baseAddress! + written, bytes.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += n
            }
            return nil
        }
        if let writeErrno {
            close(fd)
            throw UnitWriteError(path: base + "/" + unit.name, message: String(cString: strerror(writeErrno)))
        }
        guard close(fd) == 0 else { throw failure(base + "/" + unit.name) }

        for target in unit.wantedBy {
            let wants = target + ".wants"
            if !madeDirectories.contains(wants) {
                if mkdirat(directoryFD, wants, 0o755) != 0 && errno != EEXIST { throw failure(base + "/" + wants) }
                madeDirectories.insert(wants)
            }
            let link = wants + "/" + unit.name
            var linked = symlinkat("../" + unit.name, directoryFD, link) == 0
            if !linked && errno == EEXIST {
                unlinkat(directoryFD, link, 0)
                linked = symlinkat("../" + unit.name, directoryFD, link) == 0
            }
            guard linked else { throw failure(base + "/" + link) }
        }
    }
}

private func failure(_ path: String) -> UnitWriteError {
    UnitWriteError(path: path, message: String(cString: strerror(errno)))
}
