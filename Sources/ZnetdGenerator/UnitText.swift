/// A unit file's text while it is written: UTF-8 bytes appended to one buffer.
///
/// A unit is some sixty short appends; on a `String` each costs about a thousand instructions
/// (uniqueness, capacity and ASCII-flag bookkeeping, bench/generator under callgrind), on a byte
/// buffer a copy. The generator runs at every boot and daemon-reload.
struct UnitText {
    private(set) var bytes: [UInt8] = []

    init(_ start: String, capacity: Int) {
        bytes.reserveCapacity(capacity)
        self += start
    }

    static func += (text: inout UnitText, more: String) {
        var more = more
        more.withUTF8 { text.bytes.append(contentsOf: $0) }
    }

    var string: String { String(decoding: bytes, as: UTF8.self) }
}
