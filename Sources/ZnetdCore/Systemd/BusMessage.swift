import CSystemd
import Glibc
import ZnetdConfig

/// One sd-bus message (a method call being built, or a reply or signal being read), with typed
/// append and read helpers for the few D-Bus types znetd uses.
///
/// Swift cannot call sd-bus's variadic `sd_bus_message_append`/`_read`, so every value goes
/// through `sd_bus_message_append_basic`/`_read_basic` and containers are opened and closed
/// one by one. Each instance holds one reference to the message. Confined to the bus's thread.
final class BusMessage {
    let pointer: OpaquePointer

    /// Takes over a reference the caller owns (a message just created).
    init(adopting pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// Adds a reference to a message sd-bus lends to a callback.
    init(retaining pointer: OpaquePointer) {
        self.pointer = sd_bus_message_ref(pointer)
    }

    deinit {
        sd_bus_message_unref(pointer)
    }

    /// A method call to `destination` (systemd, unless told otherwise).
    static func methodCall(
        on bus: OpaquePointer, destination: String = SystemdBus.destination,
        path: String, interface: String, member: String
    ) throws(UnitError) -> BusMessage {
        var message: OpaquePointer?
        let r = sd_bus_message_new_method_call(bus, &message, destination, path, interface, member)
        guard r >= 0, let message else {
            throw UnitError.local("sd_bus_message_new_method_call \(interface).\(member)", errno: -r)
        }
        return BusMessage(adopting: message)
    }

    // MARK: Appending

    private func check(_ r: Int32, _ what: String) throws(UnitError) {
        if r < 0 { throw UnitError.local("appending \(what) to a D-Bus message", errno: -r) }
    }

    func append(_ value: String) throws(UnitError) {
        try check(value.withCString { sd_bus_message_append_basic(pointer, CChar(UInt8(ascii: "s")), $0) }, "a string")
    }

    func append(objectPath value: String) throws(UnitError) {
        try check(value.withCString { sd_bus_message_append_basic(pointer, CChar(UInt8(ascii: "o")), $0) }, "an object path")
    }

    func append(_ value: Bool) throws(UnitError) {
        // D-Bus booleans travel as 32-bit integers.
        var int: Int32 = value ? 1 : 0
        try check(sd_bus_message_append_basic(pointer, CChar(UInt8(ascii: "b")), &int), "a boolean")
    }

    func append(_ value: UInt64) throws(UnitError) {
        var value = value
        try check(sd_bus_message_append_basic(pointer, CChar(UInt8(ascii: "t")), &value), "a uint64")
    }

    func append(_ value: UInt32) throws(UnitError) {
        var value = value
        try check(sd_bus_message_append_basic(pointer, CChar(UInt8(ascii: "u")), &value), "a uint32")
    }

    func append(_ value: Int32) throws(UnitError) {
        var value = value
        try check(sd_bus_message_append_basic(pointer, CChar(UInt8(ascii: "i")), &value), "an int32")
    }

    /// An `as` array.
    func append(strings: [String]) throws(UnitError) {
        // A NULL-terminated char** for sd_bus_message_append_strv.
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for p in pointers { free(p) } }
        let r = pointers.withUnsafeMutableBufferPointer { sd_bus_message_append_strv(pointer, $0.baseAddress) }
        try check(r, "a string array")
    }

    /// Opens a container: `type` is "a", "v", "r" or "e"; `contents` its signature
    /// (an array's element, a variant's value, a struct's or dict entry's members).
    func open(_ type: Character, _ contents: String) throws(UnitError) {
        let r = sd_bus_message_open_container(pointer, CChar(type.asciiValue!), contents)
        try check(r, "a container \(type)<\(contents)>")
    }

    func close() throws(UnitError) {
        try check(sd_bus_message_close_container(pointer), "the end of a container")
    }

    /// A `(sv)` pair whose variant holds a basic value or a string array.
    func appendProperty(_ name: String, _ value: UnitProperty.Value) throws(UnitError) {
        try open("r", "sv")
        try append(name)
        switch value {
        case .string(let s):
            try open("v", "s")
            try append(s)
        case .boolean(let b):
            try open("v", "b")
            try append(b)
        case .uint64(let t):
            try open("v", "t")
            try append(t)
        case .int32(let i):
            try open("v", "i")
            try append(i)
        case .strings(let strings):
            try open("v", "as")
            try append(strings: strings)
        }
        try close()
        try close()
    }

    // MARK: Reading

    private func readBasic<T>(_ type: Character, _ value: inout T) throws(UnitError) {
        let r = withUnsafeMutablePointer(to: &value) {
            sd_bus_message_read_basic(pointer, CChar(type.asciiValue!), $0)
        }
        if r < 0 { throw UnitError.badReply("cannot read a '\(type)' value: \(errnoDescription(-r))") }
        if r == 0 { throw UnitError.badReply("expected a '\(type)' value, found the end of the message") }
    }

    func readString() throws(UnitError) -> String {
        var value: UnsafePointer<CChar>? = nil
        try readBasic("s", &value)
        return value.map { String(cString: $0) } ?? ""
    }

    func readObjectPath() throws(UnitError) -> String {
        var value: UnsafePointer<CChar>? = nil
        try readBasic("o", &value)
        return value.map { String(cString: $0) } ?? ""
    }

    func readUInt32() throws(UnitError) -> UInt32 {
        var value: UInt32 = 0
        try readBasic("u", &value)
        return value
    }

    func readUInt64() throws(UnitError) -> UInt64 {
        var value: UInt64 = 0
        try readBasic("t", &value)
        return value
    }

    func readInt32() throws(UnitError) -> Int32 {
        var value: Int32 = 0
        try readBasic("i", &value)
        return value
    }

    func readBool() throws(UnitError) -> Bool {
        var value: Int32 = 0
        try readBasic("b", &value)
        return value != 0
    }

    func readStrings() throws(UnitError) -> [String] {
        var list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
        let r = sd_bus_message_read_strv(pointer, &list)
        if r < 0 { throw UnitError.badReply("cannot read a string array: \(errnoDescription(-r))") }
        guard let list else { return [] }
        defer { free(list) }
        var strings: [String] = []
        var i = 0
        while let item = list[i] {
            strings.append(String(cString: item))
            free(item)
            i += 1
        }
        return strings
    }

    /// Enters a container; false at the end of the enclosing array.
    @discardableResult
    func enter(_ type: Character, _ contents: String) throws(UnitError) -> Bool {
        let r = sd_bus_message_enter_container(pointer, CChar(type.asciiValue!), contents)
        if r < 0 { throw UnitError.badReply("cannot enter \(type)<\(contents)>: \(errnoDescription(-r))") }
        return r > 0
    }

    func exit() throws(UnitError) {
        let r = sd_bus_message_exit_container(pointer)
        if r < 0 { throw UnitError.badReply("cannot leave a container: \(errnoDescription(-r))") }
    }

    /// Skips the next values, described by their signature.
    func skip(_ signature: String) throws(UnitError) {
        let r = sd_bus_message_skip(pointer, signature)
        if r < 0 { throw UnitError.badReply("cannot skip '\(signature)': \(errnoDescription(-r))") }
    }

    /// The signature of the value inside the variant that comes next.
    func variantContents() throws(UnitError) -> String {
        var type: CChar = 0
        var contents: UnsafePointer<CChar>? = nil
        let r = sd_bus_message_peek_type(pointer, &type, &contents)
        guard r > 0, type == CChar(UInt8(ascii: "v")), let contents else {
            throw UnitError.badReply("expected a variant")
        }
        return String(cString: contents)
    }

    /// Reads a variant holding a string; nil if it holds another type (skipped).
    func readVariantString() throws(UnitError) -> String? {
        let contents = try variantContents()
        guard contents == "s" || contents == "o" else {
            try skip("v")
            return nil
        }
        try enter("v", contents)
        let value = contents == "s" ? try readString() : try readObjectPath()
        try exit()
        return value
    }

    /// Reads a variant holding a `u`; nil if it holds another type (skipped).
    func readVariantUInt32() throws(UnitError) -> UInt32? {
        guard try variantContents() == "u" else {
            try skip("v")
            return nil
        }
        try enter("v", "u")
        let value = try readUInt32()
        try exit()
        return value
    }

    // MARK: Errors

    /// The D-Bus error this message carries, if it is an error reply (including the ones
    /// sd-bus makes up for a timeout or a lost connection).
    var error: UnitError? {
        guard sd_bus_message_is_method_error(pointer, nil) != 0,
              let error = sd_bus_message_get_error(pointer) else { return nil }
        let name = error.pointee.name.map { String(cString: $0) } ?? "org.freedesktop.DBus.Error.Failed"
        let message = error.pointee.message.map { String(cString: $0) } ?? ""
        return UnitError(kind: .bus(name: name), message: message)
    }
}

/// Names on systemd's side of the bus.
enum SystemdBus {
    static let destination = "org.freedesktop.systemd1"
    static let managerPath = "/org/freedesktop/systemd1"
    static let manager = "org.freedesktop.systemd1.Manager"
    static let unit = "org.freedesktop.systemd1.Unit"
    static let service = "org.freedesktop.systemd1.Service"
    static let properties = "org.freedesktop.DBus.Properties"

    /// The object path systemd gives a unit (`sd_bus_path_encode` of the name).
    static func unitPath(_ name: String) -> String {
        var path: UnsafeMutablePointer<CChar>? = nil
        guard sd_bus_path_encode("/org/freedesktop/systemd1/unit", name, &path) >= 0, let path else {
            return "/org/freedesktop/systemd1/unit/_"
        }
        defer { free(path) }
        return String(cString: path)
    }
}
