/// The Prometheus text exposition format (version 0.0.4), as node_exporter's textfile collector
/// reads it: `# HELP` and `# TYPE` once per metric before its first sample, samples of a metric
/// kept together, label values and help texts escaped.
public struct PrometheusText {
    public private(set) var text = ""
    private var declared: Set<String> = []
    private var current = ""

    public init() {}

    public mutating func counter(_ name: String, _ help: String, _ value: UInt64,
                                 _ labels: KeyValuePairs<String, String> = [:]) {
        declare(name, help, "counter")
        sample(name, labels, String(value))
    }

    /// A counters type's table (key, help, value) in its order, unlabelled: each row the counter
    /// `prefix` + key + `_total`, its HELP the row's help after `helpPrefix`, as a sentence.
    public mutating func counters(_ prefix: String, _ rows: [(key: String, help: String, value: UInt64)], helpPrefix: String = "") {
        for r in rows { counter(prefix + r.key + "_total", helpPrefix + r.help + ".", r.value) }
    }

    public mutating func gauge(_ name: String, _ help: String, _ value: Double,
                               _ labels: KeyValuePairs<String, String> = [:]) {
        declare(name, help, "gauge")
        let text = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : formatFixed(value, 6)
        sample(name, labels, text)
    }

    /// HELP and TYPE once per metric, before its first sample (a metric's samples stay together:
    /// callers emit them in a row).
    private mutating func declare(_ name: String, _ help: String, _ type: String) {
        defer { current = name }
        guard declared.insert(name).inserted else {
            assert(current == name, "the samples of \(name) are not together")
            return
        }
        text += "# HELP \(name) \(PrometheusText.escapeHelp(help))\n# TYPE \(name) \(type)\n"
    }

    private mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String>, _ value: String) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.key)=\"\(PrometheusText.escapeLabel($0.value))\"" }.joined(separator: ",") + "}"
        }
        text += " " + value + "\n"
    }

    /// A label value: backslash, double quote and line feed escaped.
    public static func escapeLabel(_ s: String) -> String {
        escaped(s) { c in c == "\\" ? "\\\\" : c == "\"" ? "\\\"" : c == "\n" ? "\\n" : nil }
    }

    /// A HELP text: backslash and line feed escaped.
    public static func escapeHelp(_ s: String) -> String {
        escaped(s) { c in c == "\\" ? "\\\\" : c == "\n" ? "\\n" : nil }
    }
}
