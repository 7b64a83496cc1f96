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
public func writeUnits(_ units: [GeneratedUnit], to directory: String) throws(UnitWriteError) {
    let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
    var madeDirectories: Set<String> = []
    for unit in units {
        let path = base + "/" + unit.name
        // systemd hands a generator empty directories: create without truncating (measurably
        // cheaper on tmpfs), and replace only when the file is there (`znetd generate`).
        var fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 && errno == EEXIST { fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC) }
        guard fd >= 0 else { throw failure(path) }
        let bytes = Array(unit.text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let error = failure(path)
                close(fd)
                throw error
            }
            written += n
        }
        guard close(fd) == 0 else { throw failure(path) }

        for target in unit.wantedBy {
            let wants = base + "/" + target + ".wants"
            if !madeDirectories.contains(wants) {
                if mkdir(wants, 0o755) != 0 && errno != EEXIST { throw failure(wants) }
                madeDirectories.insert(wants)
            }
            let link = wants + "/" + unit.name
            var linked = symlink("../" + unit.name, link) == 0
            if !linked && errno == EEXIST {
                unlink(link)
                linked = symlink("../" + unit.name, link) == 0
            }
            guard linked else { throw failure(link) }
        }
    }
}

private func failure(_ path: String) -> UnitWriteError {
    UnitWriteError(path: path, message: String(cString: strerror(errno)))
}
