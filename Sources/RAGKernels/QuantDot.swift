internal import CQuantDot

/// How activations are quantized before an integer dot with a weight format (ggml's
/// `vec_dot_type`): Q8_0 for Q4_0 / Q5_0 / Q8_0, Q8_1 (with the block sum) for Q4_1, Q8_K
/// (256-blocks, f32 scale) for the K-quants.
public enum ActivationFormat: Sendable {
    case q8_0, q8_1, q8_K

    public var blockSize: Int { self == .q8_K ? 256 : 32 }
}

/// Rows of activations quantized to int8 in blocks, in storage this object owns:
/// `quants` (int8 per value), `scales` (one per block), `sums` (Q8_1: d·Σq per block rounded to
/// f16, as ggml stores it) and, for Q8_K only, `sum16` / `sum32` (Σq per 16 / 32 values, for the
/// K-quants' offsets and minimums).
///
/// Rounding follows ggml on x86: Q8_0/Q8_1 multiply by 127/max|x| and round half to even, the
/// scale kept as f16; Q8_K scales by −127/x at max|x|, rounds half to even, clamps at 127 and keeps
/// the f32 scale.
public final class QuantizedActivations: @unchecked Sendable {
    public let format: ActivationFormat
    public let width: Int
    public let capacity: Int
    public private(set) var rows = 0
    public let quants: UnsafeMutablePointer<Int8>
    public let scales: UnsafeMutablePointer<Float>
    public let sums: UnsafeMutablePointer<Float>
    public let sum16: UnsafeMutablePointer<Int16>
    public let sum32: UnsafeMutablePointer<Int16>

    public init(format: ActivationFormat, width: Int, capacity: Int) {
        precondition(width % format.blockSize == 0, "Programmer error: \(width) values are not whole \(format) blocks")
        self.format = format
        self.width = width
        self.capacity = capacity
        quants = .allocate(capacity: width * capacity)
        scales = .allocate(capacity: width / 32 * capacity)
        sums = .allocate(capacity: width / 32 * capacity)
        sum16 = .allocate(capacity: width / 16 * capacity)
        sum32 = .allocate(capacity: width / 32 * capacity)
    }

    deinit {
        quants.deallocate()
        scales.deallocate()
        sums.deallocate()
        sum16.deallocate()
        sum32.deallocate()
    }

    /// Quantizes `rows` vectors of `width` values, `stride` floats apart.
    public func quantize(_ x: UnsafePointer<Float>, rows: Int, stride: Int, threads: Int = 1) {
        precondition(rows <= capacity, "Programmer error: \(rows) rows, capacity \(capacity)")
        self.rows = rows
        let source = UnsafeTransfer(x)
        Parallel.forEach(rows, threads: rows >= 8 ? threads : 1) { r, _ in self.quantizeRow(source.value + r * stride, row: r) }
    }

    /// Quantizes one row (rows are independent: threads may write different ones).
    func quantizeRow(_ x: UnsafePointer<Float>, row r: Int) {
        let q = quants + r * width
        switch format {
        case .q8_0, .q8_1:
            let blocks = width / 32
            for b in 0..<blocks {
                let v = x + b * 32
                var amax: Float = 0
                for j in 0..<32 {
                    let a = abs(v[j])
                    amax = a > amax ? a : amax
                }
                let d = amax / 127
                let inverse: Float = amax != 0 ? 127 / amax : 0
                var sum: Int32 = 0
                for j in 0..<32 {
                    // Round half to even by the 1.5·2²³ trick (|x| ≤ 127 here), as _mm_round_ps does.
                    let rounded = (v[j] * inverse + 12_582_912) - 12_582_912
                    let qj = Int8(truncatingIfNeeded: Int32(truncatingIfNeeded: Int(rounded)))
                    q[b * 32 + j] = qj
                    sum &+= Int32(qj)
                }
                scales[r * blocks + b] = Float(Float16(d))
                sums[r * blocks + b] = Float(Float16(Float(sum) * d))
            }
        case .q8_K:
            let blocks = width / 256
            for b in 0..<blocks {
                let v = x + b * 256
                var amax: Float = 0, maxValue: Float = 0
                for j in 0..<256 where abs(v[j]) > amax {
                    amax = abs(v[j])
                    maxValue = v[j]
                }
                if amax == 0 {
                    (q + b * 256).update(repeating: 0, count: 256)
                    scales[r * blocks + b] = 0
                } else {
                    let inverse = -127 / maxValue
                    for j in 0..<256 { q[b * 256 + j] = Int8(min(127, (inverse * v[j]).rounded(.toNearestOrEven))) }
                    scales[r * blocks + b] = 1 / inverse
                }
            }
        }
        // Only the K-quant dots read the group sums (their offsets and minimums).
        guard format == .q8_K else { return }
        let groups = width / 16
        let g16 = sum16 + r * groups, g32 = sum32 + r * (groups / 2)
        for k in 0..<groups {
            var s: Int16 = 0
            for j in 0..<16 { s &+= Int16(q[k * 16 + j]) }  // |Σ| ≤ 16 · 128
            g16[k] = s
            if k % 2 == 1 { g32[k / 2] = g16[k - 1] &+ s }
        }
    }

    /// Rows `first…` as the C kernels read them.
    @inline(__always)
    func kernelView(from first: Int) -> rag_q8_rows {
        let perScale = format.blockSize
        return rag_q8_rows(
            qs: quants + first * width, d: scales + first * (width / perScale), s: sums + first * (width / 32),
            sum16: sum16 + first * (width / 16), sum32: sum32 + first * (width / 32), width: Int32(width))
    }

    /// The value the quantized row stands for at `i` (for tests).
    public func value(row r: Int, _ i: Int) -> Float {
        scales[r * (width / format.blockSize) + i / format.blockSize] * Float(quants[r * width + i])
    }
}

/// Dot products of quantized weight rows, as stored, with quantized activation rows (ggml's
/// `vec_dot_*`): integer products per block, scaled once per block, offsets and minimums folded in
/// through the activations' sums. The inner loops are C with intrinsics (CQuantDot): AVX2
/// `vpmaddubsw`/`vpmaddwd` everywhere, AVX-512 VNNI `vpdpbusd` where the CPU has it.
public enum QuantDot {
    /// The weight formats with an integer dot (ggml type ids).
    public enum Weights: Int32, Sendable {
        case q4_0 = 2, q4_1 = 3, q5_0 = 6, q8_0 = 8, q4_K = 12, q6_K = 14

        /// The activation format the dot wants (ggml's `vec_dot_type`).
        public var activations: ActivationFormat {
            switch self {
            case .q8_0, .q4_0, .q5_0: .q8_0
            case .q4_1: .q8_1
            case .q4_K, .q6_K: .q8_K
            }
        }
    }

    /// The most activation rows one pass over a weight row serves.
    public static let maxRows = 8

    /// out[r · ldo + o] = W[o] · x[first + r] for the `count` weight rows from `w` (`rowBytes`
    /// apart) and the activation rows `first ..< first + nx` (nx ≤ 8): each weight block is read
    /// once for all of them.
    @inline(__always)
    public static func rows(
        _ type: Weights, _ w: UnsafeRawPointer, rowBytes: Int, count: Int,
        _ x: QuantizedActivations, first: Int, nx: Int, into out: UnsafeMutablePointer<Float>, ldo: Int
    ) {
        precondition(nx >= 1 && nx <= maxRows && first + nx <= x.rows, "Programmer error: activation rows \(first)..<\(first + nx) of \(x.rows)")
        var view = x.kernelView(from: first)
        let status = CPUFeatures.hasAVX512
            ? rag_quant_dot_vnni(type.rawValue, w, rowBytes, Int32(count), &view, Int32(nx), out, ldo)
            : rag_quant_dot_avx2(type.rawValue, w, rowBytes, Int32(count), &view, Int32(nx), out, ldo)
        precondition(status == 0, "Programmer error: no kernel for \(type) × \(nx)")
    }
}
