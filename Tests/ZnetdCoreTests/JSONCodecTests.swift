import Testing

@testable import ZnetdCore

@Test func jsonRoundTripKeepsKeyOrderAndExactIntegers() throws {
    let value = JSONValue.object([
        ("z", .integer(Int64.max)), ("a", .array([.null, .bool(true), .bool(false), .number(0.25)])),
        ("text", .string("quote \" backslash \\ tab \t nl \n é 😀 \u{01}")),
        ("empty", .object([])), ("list", .array([])),
    ])
    let text = value.encoded
    #expect(!text.contains("\n"))
    #expect(text.hasPrefix("{\"z\":9223372036854775807,\"a\":[null,true,false,0.25]"))
    #expect(text.contains("\\u0001"))
    #expect(try JSONParser.parse(text) == value)
    #expect(try JSONParser.parse(value.pretty) == value)
}

@Test func jsonParsesEscapesAndNumbers() throws {
    #expect(try JSONParser.parse(#""\u00e9\ud83d\ude00\/\b\f""#) == .string("é😀/\u{08}\u{0C}"))
    #expect(try JSONParser.parse(" -12 ") == .integer(-12))
    #expect(try JSONParser.parse("1.5e3") == .number(1500))
    #expect(try JSONParser.parse("0") == .integer(0))
    #expect(try JSONParser.parse("18446744073709551616") == .number(18446744073709551616))
    #expect(try JSONParser.parse(#"{"a" : [1 , {"b":null}]}"#)["a"]?.arrayValue?.count == 2)
}

@Test(arguments: [
    ("", "expected a value; found end of input"),
    ("[1,]", "expected a value; found ']'"),
    ("{\"a\":1,}", "expected a key string; found '}'"),
    ("01", "leading zero in a number"),
    ("1.", "expected a digit after '.'"),
    ("-", "expected a digit; found end of input"),
    ("\"a\tb\"", "control character 0x9 in a string"),
    ("\"\\ud800\"", "lone surrogate"),
    ("\"\\x\"", "unknown escape"),
    ("{\"a\":1,\"a\":2}", "duplicate key \"a\""),
    ("[1] [2]", "unexpected '[' after the document"),
    ("tru", "expected 'true'"),
    ("// no\n1", "expected a value; found '/'"),
    ("\"abc", "unterminated string"),
    ("1e999", "out of range"),
])
func jsonRejects(input: String, message: String) {
    #expect {
        _ = try JSONParser.parse(input)
    } throws: { error in
        "\(error)".contains(message)
    }
}

@Test func jsonRejectsInvalidUTF8AndDeepNesting() {
    #expect(throws: JSONParser.SyntaxError.self) { _ = try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
    let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
    #expect(throws: JSONParser.SyntaxError.self) { _ = try JSONParser.parse(deep) }
    let fine = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
    #expect((try? JSONParser.parse(fine)) != nil)
}

@Test func jsonErrorNamesTheByte() {
    #expect {
        _ = try JSONParser.parse("{\"a\": x}")
    } throws: { error in
        "\(error)" == "invalid JSON at byte 7: expected a value; found 'x'"
    }
}
