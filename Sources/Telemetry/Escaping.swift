/// `s` with each Unicode scalar that `replacement` names replaced: the one loop behind JSON
/// strings and Prometheus label values and help texts, which differ only in what they escape.
func escaped(_ s: String, _ replacement: (Unicode.Scalar) -> String?) -> String {
    var out = ""
    for scalar in s.unicodeScalars {
        if let r = replacement(scalar) { out += r } else { out.unicodeScalars.append(scalar) }
    }
    return out
}
