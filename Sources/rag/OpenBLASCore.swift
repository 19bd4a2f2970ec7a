import Foundation

/// OpenBLAS 0.3.21 (Debian 12) does not recognise recent Xeon and EPYC models and falls back to
/// its generic SSE3 ("Prescott") kernels, 3× slower than AVX-512 ones. It picks its kernels from
/// OPENBLAS_CORETYPE when the library loads — before `main` — so when the variable is unset, rag
/// sets it from the CPU's flags and re-executes itself once. A value the user set is respected.
enum OpenBLASCore {
    static func reexecIfNeeded() {
        let environment = ProcessInfo.processInfo.environment
        guard environment["OPENBLAS_CORETYPE"] == nil, environment["RAG_OPENBLAS_REEXEC"] == nil,
            let core = preferredCore()
        else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv("RAG_OPENBLAS_REEXEC", "1", 1)
        let arguments = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", &argv)
        // execv returns only on failure: carry on with whatever OpenBLAS chose.
    }

    /// The kernel family for this CPU, from /proc/cpuinfo flags.
    static func preferredCore() -> String? {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return nil }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        if flags.contains("avx512f"), flags.contains("avx512bw"), flags.contains("avx512vl") { return "SkylakeX" }
        if flags.contains("avx2"), flags.contains("fma") { return "Haswell" }
        return nil
    }
}
