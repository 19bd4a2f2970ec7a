import Foundation
import RAGKernels

/// The machine's streaming-read bandwidth: `threads` threads each sum their share of a buffer far
/// larger than the caches (256 MiB) with wide loads, best of five passes — the ceiling a decode
/// step that reads every weight once can approach.
enum MemoryBandwidth {
    static func measure(threads: Int, bytes: Int = 256 << 20) -> Double {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { buffer.deallocate() }
        memset(buffer, 1, bytes)  // fault every page in before timing
        let pool = WorkerPool(threads: threads)
        defer { pool.shutdown() }
        let base = UnsafeTransfer(UnsafeRawPointer(buffer))
        let share = bytes / pool.threads / 256 * 256
        let sink = UnsafeMutablePointer<Float>.allocate(capacity: pool.threads)
        defer { sink.deallocate() }
        let sums = UnsafeTransfer(sink)
        var best = Double.infinity
        for _ in 0..<5 {
            let start = DispatchTime.now().uptimeNanoseconds
            pool.run { thread in
                let p = base.value + thread * share
                var a = SIMD16<Float>(), b = SIMD16<Float>(), c = SIMD16<Float>(), d = SIMD16<Float>()
                var offset = 0
                while offset < share {
                    a += p.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self)
                    b += p.loadUnaligned(fromByteOffset: offset + 64, as: SIMD16<Float>.self)
                    c += p.loadUnaligned(fromByteOffset: offset + 128, as: SIMD16<Float>.self)
                    d += p.loadUnaligned(fromByteOffset: offset + 192, as: SIMD16<Float>.self)
                    offset += 256
                }
                sums.value[thread] = (a + b + c + d).sum()
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return Double(share * pool.threads) / best
    }
}
