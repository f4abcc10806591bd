extension String {
    /// The text a C call wrote into `buffer`, up to its NUL (all of it when there is none): a
    /// NUL-terminated byte format like the others here, read without the deprecated
    /// `String(cString:)` on arrays.
    public init(cText buffer: [CChar]) {
        self = buffer.withUnsafeBytes { raw in String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
}
