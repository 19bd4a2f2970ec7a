import Foundation

/// One input through the chosen target (libFuzzer calls it for every input it makes).
func fuzzOneInput(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    fuzzTarget.run(Data(bytes: bytes, count: count))
    return 0
}

let fuzzTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["RAG_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("set RAG_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return target
}()

/// `rag-fuzz TARGET FILE…` runs each file through the target once: how the seed corpus and every
/// input a fuzzer found run as a regression test in `make test`. Built with `-sanitize=fuzzer`
/// and FUZZING defined (`make fuzz`), it hands its arguments to libFuzzer's driver instead,
/// and the target comes from $RAG_FUZZ_TARGET.
@main
struct Replay {
    static func main() {
        #if FUZZING
        _ = fuzzTarget
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, { bytes, count in fuzzOneInput(bytes!, count) }))
        #else
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            print("usage: rag-fuzz TARGET FILE…  (targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))")
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("rag-fuzz: cannot read \(path)")
                exit(1)
            }
            target.run(data)
            count += 1
        }
        print("rag-fuzz \(name): \(count) inputs, no finding")
        #endif
    }
}

#if FUZZING
/// libFuzzer's entry for a program that has its own main.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif
