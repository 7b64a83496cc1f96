import Glibc

/// Configuration files are small; the limit keeps a mistaken `--config /dev/zero` from eating memory.
private let maximumConfigFileSize = 16 << 20

/// The bytes of the file at `path`, or a problem naming the file and the system's reason.
func readConfigFile(_ path: String) throws(ConfigError) -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw cannotRead(path, reason: errno) }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    // Sized by fstat (plus one byte to see the end at once): the generator reads dozens of
    // small files at every daemon-reload, and a zeroed 64 KiB chunk for each was measurable.
    var status = stat()
    let expected = fstat(descriptor, &status) == 0 && status.st_size > 0 ? Int(status.st_size) + 1 : 64 << 10
    var chunk = [UInt8](repeating: 0, count: min(expected, maximumConfigFileSize + 1))
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            throw cannotRead(path, reason: errno)
        }
        if count == 0 { return bytes }
        bytes += chunk[..<count]
        if bytes.count > maximumConfigFileSize {
            throw ConfigError(
                location: nil, keyPath: "",
                message: "cannot read '\(path)': larger than \(maximumConfigFileSize >> 20) MiB")
        }
    }
}

private func cannotRead(_ path: String, reason: Int32) -> ConfigError {
    ConfigError(location: nil, keyPath: "", message: "cannot read '\(path)': \(String(cString: strerror(reason)))")
}
