import Glibc

/// The whole contents of a (small) file.
func readWholeFile(_ path: String) -> Result<[UInt8], SystemError> {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return .failure(SystemError("open", subject: path)) }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 16 << 10)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n > 0 {
            bytes += buffer[0..<n]
        } else if n == 0 {
            return .success(bytes)
        } else if errno != EINTR {
            return .failure(SystemError("read", subject: path))
        }
    }
}

/// Replaces `path` with `bytes` so that a crash leaves the old file or the new one, never a
/// mix: write a temporary file next to it, fsync it, rename it over, fsync the directory.
func writeFileAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600) -> Result<Void, SystemError> {
    let temporary = path + ".tmp"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { return .failure(SystemError("open", subject: temporary)) }
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 {
            if errno == EINTR { continue }
            let error = SystemError("write", subject: temporary)
            close(fd)
            unlink(temporary)
            return .failure(error)
        }
        offset += n
    }
    if fsync(fd) != 0 {
        let error = SystemError("fsync", subject: temporary)
        close(fd)
        unlink(temporary)
        return .failure(error)
    }
    close(fd)
    guard rename(temporary, path) == 0 else {
        let error = SystemError("rename", subject: path)
        unlink(temporary)
        return .failure(error)
    }
    let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
    let directoryFD = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if directoryFD >= 0 {
        _ = fsync(directoryFD)
        close(directoryFD)
    }
    return .success(())
}
