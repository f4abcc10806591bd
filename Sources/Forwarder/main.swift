#if canImport(Glibc)
import Glibc
#endif

/// Entry point: parse, run, map errors to exit codes (0 ok, 1 runtime, 2 usage).
func main() -> Int32 {
    do {
        switch try Options.parse(Array(CommandLine.arguments.dropFirst())) {
        case .help:
            print(usageText)
            return 0
        case .version:
            print("forwarder \(forwarderVersion)")
            return 0
        case .run(let options):
            return try Runner(options: options).run()
        }
    } catch let error as UsageError {
        printError(error.message)
        return 2
    } catch let error as RuntimeError {
        printError(error.message)
        return 1
    } catch {
        printError("\(error)")
        return 1
    }
}

exit(main())
