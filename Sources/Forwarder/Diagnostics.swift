#if canImport(Glibc)
import Glibc
#endif

/// Writes one line to stderr, prefixed with the program's name (no Foundation, safe from any
/// thread: one write per line, so lines from two threads never interleave).
func printError(_ message: String) {
    var line = "forwarder: " + message + "\n"
    line.withUTF8 { buffer in _ = write(2, buffer.baseAddress, buffer.count) }
}
