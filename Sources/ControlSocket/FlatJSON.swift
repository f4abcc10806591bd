/// The control protocol's requests are flat JSON objects (`{"command":"sessions","inside":
/// "10.0.0.2"}`): strings, numbers, booleans and null as values, no nesting. A parser of exactly
/// that, strict and bounded, keeps whatever a client sends from costing more than its length: no
/// recursion to exhaust, no number or string read beyond the buffer, every error a message.
public enum FlatJSON {
    public enum Value: Equatable, Sendable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case null
    }

    public struct ParseError: Error, Equatable, Sendable {
        public let message: String
        public init(_ message: String) { self.message = message }
    }

    /// Parses one object; whitespace around it is allowed, anything else after it is an error,
    /// as is a key given twice.
    public static func parse(_ bytes: some Collection<UInt8>) throws(ParseError) -> [String: Value] {
        var reader = Reader(Array(bytes))
        return try reader.object()
    }

    private struct Reader {
        let bytes: [UInt8]
        var at = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        mutating func object() throws(ParseError) -> [String: Value] {
            skipSpace()
            try expect(UInt8(ascii: "{"), "a request is one JSON object: {\"command\": ...}")
            var fields: [String: Value] = [:]
            skipSpace()
            if peek() == UInt8(ascii: "}") {
                at += 1
            } else {
                while true {
                    skipSpace()
                    guard peek() == UInt8(ascii: "\"") else { throw ParseError("expected a quoted key at byte \(at)") }
                    let key = try string()
                    skipSpace()
                    try expect(UInt8(ascii: ":"), "expected ':' after the key \"\(key)\"")
                    skipSpace()
                    let value = try value(of: key)
                    guard fields.updateValue(value, forKey: key) == nil else { throw ParseError("the key \"\(key)\" is given twice") }
                    skipSpace()
                    if peek() == UInt8(ascii: ",") { at += 1; continue }
                    try expect(UInt8(ascii: "}"), "expected ',' or '}' at byte \(at)")
                    break
                }
            }
            skipSpace()
            guard at == bytes.count else { throw ParseError("unexpected text after the object at byte \(at)") }
            return fields
        }

        mutating func value(of key: String) throws(ParseError) -> Value {
            guard let c = peek() else { throw ParseError("expected a value for \"\(key)\" at byte \(at)") }
            switch c {
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                throw ParseError("the value of \"\(key)\" is nested: values are strings, numbers, true, false or null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw ParseError("expected a value for \"\(key)\" at byte \(at)")
            }
        }

        /// RFC 8259's number grammar, checked before it is converted.
        mutating func number() throws(ParseError) -> Double {
            let start = at
            if peek() == UInt8(ascii: "-") { at += 1 }
            if peek() == UInt8(ascii: "0") {
                at += 1
            } else {
                guard digits() > 0 else { throw ParseError("malformed number at byte \(start)") }
            }
            if peek() == UInt8(ascii: ".") {
                at += 1
                guard digits() > 0 else { throw ParseError("malformed number at byte \(start)") }
            }
            if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
                at += 1
                if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { at += 1 }
                guard digits() > 0 else { throw ParseError("malformed number at byte \(start)") }
            }
            let text = String(decoding: bytes[start..<at], as: UTF8.self)
            guard let value = Double(text), value.isFinite else { throw ParseError("number out of range at byte \(start)") }
            return value
        }

        mutating func digits() -> Int {
            var n = 0
            while let c = peek(), c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") { at += 1; n += 1 }
            return n
        }

        mutating func string() throws(ParseError) -> String {
            let start = at
            at += 1
            var scalars = String.UnicodeScalarView()
            var plain: [UInt8] = []
            func flush() throws(ParseError) {
                guard !plain.isEmpty else { return }
                guard let s = String(validating: plain, as: UTF8.self) else { throw ParseError("invalid UTF-8 in the string at byte \(start)") }
                scalars.append(contentsOf: s.unicodeScalars)
                plain.removeAll(keepingCapacity: true)
            }
            while true {
                guard let c = peek() else { throw ParseError("unterminated string at byte \(start)") }
                at += 1
                switch c {
                case UInt8(ascii: "\""):
                    try flush()
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    try flush()
                    scalars.append(try escape(start))
                case 0..<0x20:
                    throw ParseError("control character in the string at byte \(at - 1)")
                default:
                    plain.append(c)
                }
            }
        }

        mutating func escape(_ start: Int) throws(ParseError) -> Unicode.Scalar {
            guard let c = peek() else { throw ParseError("unterminated string at byte \(start)") }
            at += 1
            switch c {
            case UInt8(ascii: "\""): return "\""
            case UInt8(ascii: "\\"): return "\\"
            case UInt8(ascii: "/"): return "/"
            case UInt8(ascii: "b"): return "\u{08}"
            case UInt8(ascii: "f"): return "\u{0C}"
            case UInt8(ascii: "n"): return "\n"
            case UInt8(ascii: "r"): return "\r"
            case UInt8(ascii: "t"): return "\t"
            case UInt8(ascii: "u"):
                let high = try hex4(start)
                if (0xD800..<0xDC00).contains(high) {
                    guard peek() == UInt8(ascii: "\\"), at + 1 < bytes.count, bytes[at + 1] == UInt8(ascii: "u") else {
                        throw ParseError("unpaired surrogate in the string at byte \(start)")
                    }
                    at += 2
                    let low = try hex4(start)
                    guard (0xDC00..<0xE000).contains(low) else { throw ParseError("unpaired surrogate in the string at byte \(start)") }
                    return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!
                }
                guard let scalar = Unicode.Scalar(high) else { throw ParseError("unpaired surrogate in the string at byte \(start)") }
                return scalar
            default:
                throw ParseError("unknown escape in the string at byte \(at - 1)")
            }
        }

        mutating func hex4(_ start: Int) throws(ParseError) -> UInt32 {
            var v: UInt32 = 0
            for _ in 0..<4 {
                guard let c = peek() else { throw ParseError("unterminated string at byte \(start)") }
                at += 1
                let digit: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw ParseError("malformed \\u escape in the string at byte \(start)")
                }
                v = v << 4 | digit
            }
            return v
        }

        mutating func literal(_ word: StaticString) throws(ParseError) {
            let start = at
            for expected in UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount) {
                guard peek() == expected else { throw ParseError("unknown word at byte \(start)") }
                at += 1
            }
        }

        mutating func expect(_ c: UInt8, _ message: String) throws(ParseError) {
            guard peek() == c else { throw ParseError(message) }
            at += 1
        }

        func peek() -> UInt8? { at < bytes.count ? bytes[at] : nil }

        mutating func skipSpace() {
            while let c = peek(), c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { at += 1 }
        }
    }
}
