/// A minimal JSON object builder: keys in insertion order, numbers and strings escaped right.
struct JSONObject {
    private var fields: [String] = []

    mutating func add(_ key: String, _ value: String) { fields.append("\(quote(key)):\(quote(value))") }
    mutating func add(_ key: String, _ value: UInt64) { fields.append("\(quote(key)):\(value)") }
    mutating func add(_ key: String, _ value: Int) { fields.append("\(quote(key)):\(value)") }
    mutating func add(_ key: String, _ value: Int64) { fields.append("\(quote(key)):\(value)") }
    mutating func add(_ key: String, _ value: Bool) { fields.append("\(quote(key)):\(value)") }
    mutating func add(_ key: String, _ value: Double) {
        fields.append("\(quote(key)):" + (value.isFinite ? formatFixed(value, 6) : "null"))
    }
    mutating func add(_ key: String, _ value: JSONObject) { fields.append("\(quote(key)):\(value.text)") }
    mutating func add(_ key: String, _ values: [JSONObject]) {
        fields.append("\(quote(key)):[" + values.map(\.text).joined(separator: ",") + "]")
    }
    mutating func addNull(_ key: String) { fields.append("\(quote(key)):null") }

    var text: String { "{" + fields.joined(separator: ",") + "}" }

    private func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// `x` with `digits` decimals, without Foundation.
func formatFixed(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return "nan" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let negative = x < 0
    let scaled = (abs(x) * scale).rounded()
    guard scaled < 9e18 else { return String(x) }
    let n = UInt64(scaled)
    let whole = n / UInt64(scale)
    var text = (negative && n != 0 ? "-" : "") + String(whole)
    if digits > 0 {
        let fraction = String(n % UInt64(scale))
        text += "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }
    return text
}
