// The entry points. Built with `-D FORWARDER_FUZZ -sanitize=fuzzer,address -parse-as-library`
// (scripts/fuzz.sh) this is a libFuzzer target: libFuzzer owns main and calls
// LLVMFuzzerTestOneInput. In the normal build (`swift build`) it is a plain executable that
// replays input files through the same harness: `ForwarderFuzz [--mode l2|vlan|nat|nat2] FILE...`.
#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) var fuzzHarness: FuzzHarness?

#if FORWARDER_FUZZ
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if fuzzHarness == nil { fuzzHarness = FuzzHarness(mode: FuzzHarness.modeFromEnvironment()) }
    fuzzHarness!.run(UnsafeBufferPointer(start: data, count: size))
    return 0
}

/// libFuzzer's driver (in the runtime -sanitize=fuzzer links).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

/// SwiftPM links an executable target with `main` defined as `<module>_main` (so tests can link
/// the executable); libFuzzer's own main is then not used, so this one starts libFuzzer's driver.
@_cdecl("ForwarderFuzz_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc
    var v = argv
    return LLVMFuzzerRunDriver(&c, &v, fuzz)
}
#else
@main
struct ForwarderFuzzReplay {
    static func main() {
        var args = Array(CommandLine.arguments.dropFirst())
        var mode = FuzzHarness.modeFromEnvironment()
        if args.count >= 2, args[0] == "--mode" {
            mode = args[1] == "all" ? nil : FuzzMode(rawValue: args[1])
            args.removeFirst(2)
        }
        if args.isEmpty {
            print("usage: ForwarderFuzz [--mode l2|vlan|nat|nat2|all] FILE...  (replays fuzz inputs; scripts/fuzz.sh fuzzes)")
            exit(2)
        }
        let harness = FuzzHarness(mode: mode)
        for path in args {
            guard let f = fopen(path, "rb") else { print("cannot open \(path)"); exit(2) }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = fread(&buffer, 1, buffer.count, f)
                if n <= 0 { break }
                bytes += buffer[0..<n]
            }
            fclose(f)
            bytes.withUnsafeBufferPointer { harness.run($0) }
        }
        print("replayed \(args.count) inputs, every frame accounted for, every head back")
    }
}
#endif
