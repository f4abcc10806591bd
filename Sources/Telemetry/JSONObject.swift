/// A minimal JSON object builder: keys in insertion order, numbers and strings escaped right.
public struct JSONObject {
    private var fields: [String] = []

    public init() {}

    public mutating func add(_ key: String, _ value: String) { fields.append("\(quote(key)):\(quote(value))") }
    public mutating func add(_ key: String, _ value: UInt64) { fields.append("\(quote(key)):\(value)") }
    public mutating func add(_ key: String, _ value: Int) { fields.append("\(quote(key)):\(value)") }
    public mutating func add(_ key: String, _ value: Int64) { fields.append("\(quote(key)):\(value)") }
    public mutating func add(_ key: String, _ value: Bool) { fields.append("\(quote(key)):\(value)") }
    public mutating func add(_ key: String, _ value: Double) {
        fields.append("\(quote(key)):" + (value.isFinite ? formatFixed(value, 6) : "null"))
    }
    public mutating func add(_ key: String, _ value: JSONObject) { fields.append("\(quote(key)):\(value.text)") }
    public mutating func add(_ key: String, _ values: [JSONObject]) {
        fields.append("\(quote(key)):[" + values.map(\.text).joined(separator: ",") + "]")
    }
    /// Several counters at once, in the order given.
    public mutating func add(fields: [(String, UInt64)]) {
        for (key, value) in fields { add(key, value) }
    }
    /// A counters type's table (key, help, value), in its order; the help is the metrics'.
    public mutating func add(fields: [(key: String, help: String, value: UInt64)]) {
        for f in fields { add(f.key, f.value) }
    }
    public mutating func addNull(_ key: String) { fields.append("\(quote(key)):null") }

    public var text: String { "{" + fields.joined(separator: ",") + "}" }

    private func quote(_ s: String) -> String {
        "\"" + escaped(s) { c in
            switch c {
            case "\"": "\\\""
            case "\\": "\\\\"
            case "\n": "\\n"
            case "\t": "\\t"
            case "\r": "\\r"
            case _ where c.value < 0x20:
                "\\u" + String(repeating: "0", count: 4 - String(c.value, radix: 16).count) + String(c.value, radix: 16)
            default: nil
            }
        } + "\""
    }
}
