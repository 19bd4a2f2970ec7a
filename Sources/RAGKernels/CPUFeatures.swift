#if canImport(Glibc)
internal import Glibc
#endif

/// What the processor we run on can do, read once from the kernel's view of it (`/proc/cpuinfo`
/// lists only the features the OS has enabled, AVX-512 register state included).
public enum CPUFeatures {
    /// AVX-512 F/BW/CD/DQ/VL (x86-64-v4) and VNNI: `RAGKernelsAVX512` may run. `RAG_KERNELS=avx2` turns
    /// it off (to compare the two paths, or to work around a misbehaving machine).
    public static let hasAVX512: Bool = {
        if let forced = getenv("RAG_KERNELS"), String(cString: forced) == "avx2" { return false }
        let flags = cpuFlags()
        return ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", "avx512_vnni"].allSatisfy(flags.contains)
    }()

    /// The name of the kernel family in use, for benchmark reports.
    public static var kernels: String { hasAVX512 ? "avx512" : "avx2" }

    static func cpuFlags() -> Set<String> {
        #if os(Linux)
        guard let file = fopen("/proc/cpuinfo", "r") else { return [] }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            guard text.hasPrefix("flags") else { continue }
            let values = text.split(separator: ":", maxSplits: 1).last ?? ""
            return Set(values.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init))
        }
        #endif
        return []
    }
}
