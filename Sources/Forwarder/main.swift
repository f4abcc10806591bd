#if canImport(Glibc)
import Glibc
#endif

/// Entry point: parse everything, then run; exit status 0 ok, 1 runtime failure, 2 usage error.
func main() -> Int32 {
    let parsed: Options.Parsed
    do {
        parsed = try Options.parse(Array(CommandLine.arguments.dropFirst()))
    } catch {
        printError(error.message)
        return 2
    }
    switch parsed {
    case .help:
        print(usageText)
        return 0
    case .version:
        print("forwarder \(forwarderVersion)")
        return 0
    case .run(let options):
        do {
            return try Runner(options: options).run()
        } catch {
            printError(error.message)
            return 1
        }
    }
}

exit(main())
