extension String {
    /// The text a C call wrote into `buffer`, up to its NUL (all of it when there is none).
    init(cText buffer: [CChar]) {
        self = buffer.withUnsafeBytes { raw in String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
}
