import CYAML

/// A YAML node as written in a file, with where it was written.
///
/// The configuration is decoded from this small tree rather than from libyaml's own document
/// model so that every node keeps its place (for messages) and scalars keep whether they were
/// quoted (a quoted `"true"` is a string, not a boolean).
struct YAMLNode: Sendable {
    enum Content: Sendable {
        case scalar(String, ScalarStyle)
        case sequence([YAMLNode])
        /// Entries in the order written; duplicates are kept for the decoder to report.
        case mapping([(key: YAMLNode, value: YAMLNode)])
    }

    enum ScalarStyle: Sendable {
        case plain
        /// Single- or double-quoted, literal (`|`) or folded (`>`).
        case quoted
    }

    var content: Content
    var location: SourceLocation

    /// An empty plain scalar or one of YAML's spellings of null, as in `services:` with nothing after it.
    var isNull: Bool {
        guard case .scalar(let text, .plain) = content else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(text)
    }

    var isMapping: Bool {
        if case .mapping = content { true } else { false }
    }

    /// What this node is, for "found ..." in messages: `'ten'`, `a sequence`, `an empty value`.
    var summary: String {
        switch content {
        case .scalar(let text, _): isNull ? "an empty value" : "'\(text)'"
        case .sequence: "a sequence"
        case .mapping: "a mapping"
        }
    }

    /// Parses the one YAML document in `bytes`; `nil` when there is none (an empty file, or only
    /// comments).
    ///
    /// Aliases are replaced by a copy of the anchored node, placed where the alias is written.
    /// Syntax errors, a second document, and aliases to unknown anchors are thrown.
    static func parseDocument(_ bytes: [UInt8], file: String) throws(ConfigError) -> YAMLNode? {
        var builder = YAMLTreeBuilder(events: LibYAMLEventStream(bytes: bytes, file: file))
        return try builder.document()
    }
}

/// Builds ``YAMLNode`` trees from libyaml events.
private struct YAMLTreeBuilder {
    /// Deeper nesting than any configuration needs; the limit keeps the recursion bounded.
    static let maximumDepth = 64

    let events: LibYAMLEventStream
    var anchors: [String: YAMLNode] = [:]

    mutating func document() throws(ConfigError) -> YAMLNode? {
        var root: YAMLNode?
        var sawDocument = false
        while true {
            let (event, location) = try events.next()
            switch event {
            case .streamStart:
                continue
            case .streamEnd:
                return root
            case .documentStart:
                if sawDocument {
                    throw ConfigError(
                        location: location, keyPath: "",
                        message: "found a second YAML document; a configuration file holds one "
                            + "(put each part in its own file under conf.d/)")
                }
                sawDocument = true
                anchors = [:]
                let (first, firstLocation) = try events.next()
                root = try node(first, at: firstLocation, depth: 0)
            case .documentEnd:
                continue
            default:
                preconditionFailure("libyaml emitted a node event outside a document")
            }
        }
    }

    private mutating func node(_ event: LibYAMLEventStream.Event, at location: SourceLocation, depth: Int)
        throws(ConfigError) -> YAMLNode
    {
        guard depth < Self.maximumDepth else {
            throw ConfigError(
                location: location, keyPath: "",
                message: "nesting is deeper than \(Self.maximumDepth) levels")
        }
        let built: YAMLNode
        let anchor: String?
        switch event {
        case .alias(let name):
            guard var copy = anchors[name] else {
                throw ConfigError(
                    location: location, keyPath: "",
                    message: "alias '*\(name)' refers to no anchor; define '&\(name)' before using it")
            }
            copy.location = location
            return copy
        case .scalar(let value, let style, let name):
            built = YAMLNode(content: .scalar(value, style), location: location)
            anchor = name
        case .sequenceStart(let name):
            var items: [YAMLNode] = []
            while true {
                let (next, nextLocation) = try events.next()
                if case .sequenceEnd = next { break }
                items.append(try node(next, at: nextLocation, depth: depth + 1))
            }
            built = YAMLNode(content: .sequence(items), location: location)
            anchor = name
        case .mappingStart(let name):
            var entries: [(key: YAMLNode, value: YAMLNode)] = []
            while true {
                let (next, nextLocation) = try events.next()
                if case .mappingEnd = next { break }
                let key = try node(next, at: nextLocation, depth: depth + 1)
                let (valueEvent, valueLocation) = try events.next()
                entries.append((key, try node(valueEvent, at: valueLocation, depth: depth + 1)))
            }
            built = YAMLNode(content: .mapping(entries), location: location)
            anchor = name
        default:
            preconditionFailure("libyaml emitted \(event) where a node must start")
        }
        if let anchor { anchors[anchor] = built }
        return built
    }
}

/// libyaml's event parser over an in-memory copy of a file.
///
/// A class because libyaml keeps a pointer to its parser (string input reads through it), so the
/// parser must stay at one address for its whole life.
private final class LibYAMLEventStream {
    enum Event {
        case streamStart, streamEnd, documentStart, documentEnd
        case alias(anchor: String)
        case scalar(String, YAMLNode.ScalarStyle, anchor: String?)
        case sequenceStart(anchor: String?), sequenceEnd
        case mappingStart(anchor: String?), mappingEnd
    }

    private let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
    /// The text for libyaml, at an address that does not change.
    private let input: UnsafeMutableBufferPointer<UInt8>
    /// The same text, for hints in messages.
    private let bytes: [UInt8]
    private let file: String

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
        input = .allocate(capacity: max(bytes.count, 1))
        _ = input.initialize(from: bytes)
        guard yaml_parser_initialize(parser) == 1 else { fatalError("libyaml: out of memory") }
        yaml_parser_set_input_string(parser, input.baseAddress, bytes.count)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        input.deallocate()
    }

    /// The next event and where it starts.
    func next() throws(ConfigError) -> (Event, SourceLocation) {
        var event = yaml_event_t()
        guard yaml_parser_parse(parser, &event) == 1 else { throw syntaxError() }
        defer { yaml_event_delete(&event) }
        let location = location(of: event.start_mark)
        switch event.type {
        case YAML_STREAM_START_EVENT: return (.streamStart, location)
        case YAML_STREAM_END_EVENT: return (.streamEnd, location)
        case YAML_DOCUMENT_START_EVENT: return (.documentStart, location)
        case YAML_DOCUMENT_END_EVENT: return (.documentEnd, location)
        case YAML_ALIAS_EVENT:
            return (.alias(anchor: string(event.data.alias.anchor) ?? ""), location)
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let value = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            let style: YAMLNode.ScalarStyle = scalar.style == YAML_PLAIN_SCALAR_STYLE ? .plain : .quoted
            return (.scalar(value, style, anchor: string(scalar.anchor)), location)
        case YAML_SEQUENCE_START_EVENT:
            return (.sequenceStart(anchor: string(event.data.sequence_start.anchor)), location)
        case YAML_SEQUENCE_END_EVENT: return (.sequenceEnd, location)
        case YAML_MAPPING_START_EVENT:
            return (.mappingStart(anchor: string(event.data.mapping_start.anchor)), location)
        case YAML_MAPPING_END_EVENT: return (.mappingEnd, location)
        default: preconditionFailure("libyaml returned an event of unknown type \(event.type)")
        }
    }

    private func string(_ text: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        text.map { String(cString: $0) }
    }

    /// libyaml counts lines and columns from 0.
    private func location(of mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    private func syntaxError() -> ConfigError {
        let state = parser.pointee
        var message = "invalid YAML: " + (state.problem.map { String(cString: $0) } ?? "unknown error")
        let location: SourceLocation
        if state.error == YAML_READER_ERROR {
            // Encoding problems: libyaml gives a byte offset, not a mark.
            message += " at byte \(state.problem_offset)"
            location = self.location(of: state.mark)
        } else {
            location = self.location(of: state.problem_mark)
        }
        if let context = state.context {
            let mark = self.location(of: state.context_mark)
            message += " (\(String(cString: context)) at line \(mark.line), column \(mark.column))"
        }
        if let hint = hint(line: location.line, column: location.column) {
            message += "; " + hint
        }
        return ConfigError(location: location, keyPath: "", message: message)
    }

    /// Advice for the syntax errors operators are likely to make, from the text at the error.
    private func hint(line: Int, column: Int) -> String? {
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        guard line <= lines.count else { return nil }
        let text = Array(String(decoding: lines[line - 1], as: UTF8.self))
        if column <= text.count, text[column - 1] == "\t" {
            return "indent with spaces: YAML does not allow tabs"
        }
        if text.contains("["), String(text).contains("]:") {
            return "quote addresses in brackets, such as listen: \"[::1]:80\""
        }
        return nil
    }
}
