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
/// f16, as ggml stores it), `sum32` (Σq per 32 values: the tiles' offsets, the K-quants' minimums)
/// and, for Q8_K only, `sum16` (Σq per 16 values, for the K-quants' offsets).
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

    /// Quantizes `rows` vectors of `width` values, `stride` floats apart; with a pool, each row's
    /// blocks split over its threads (blocks are independent, so even one row is shared) unless
    /// there are too few values to pay for a job.
    public func quantize(_ x: UnsafePointer<Float>, rows: Int, stride: Int, pool: WorkerPool? = nil) {
        precondition(rows <= capacity, "Programmer error: \(rows) rows, capacity \(capacity)")
        self.rows = rows
        let blocks = width / format.blockSize
        let parts = min(pool?.threads ?? 1, blocks), size = (blocks + parts - 1) / parts
        guard let pool, parts > 1, rows * width >= Self.valuesPerJob else {
            for r in 0..<rows { quantize(x + r * stride, row: r, blocks: 0..<blocks) }
            return
        }
        let source = UnsafeTransfer(x)
        pool.forEach(rows * parts) { item, _ in
            let r = item / parts, lo = item % parts * size
            self.quantize(source.value + r * stride, row: r, blocks: lo..<min(blocks, lo + size))
        }
    }

    /// Takes `rows` rows, which the caller then fills (`quantize(_:row:blocks:)`, any thread
    /// any blocks).
    func reserve(rows: Int) {
        precondition(rows <= capacity, "Programmer error: \(rows) rows, capacity \(capacity)")
        self.rows = rows
    }

    /// The fewest values worth a job on the pool's threads (a job costs about a microsecond).
    static let valuesPerJob = 4096

    /// Quantizes blocks `range` of one row (blocks are independent: threads may write different
    /// ones); the C kernels (CQuantDot) round as ggml does.
    func quantize(_ x: UnsafePointer<Float>, row r: Int, blocks range: Range<Int>) {
        let size = format.blockSize, blocks = width / size, first = r * blocks + range.lowerBound
        let source = x + range.lowerBound * size, q = quants + r * width + range.lowerBound * size
        switch format {
        case .q8_0, .q8_1:
            rag_quantize_q8_0(source, Int32(range.count), q, scales + first, format == .q8_1 ? sums + first : nil, sum32 + first)
        case .q8_K:
            rag_quantize_q8_K(source, Int32(range.count), q, scales + first, sum16 + first * 16, sum32 + first * 8)
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
/// `vpmaddubsw`/`vpmaddwd` everywhere; where the CPU has AVX-512 VNNI, `vpdpbusd`, and the
/// K-quants on 512-bit registers.
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
    /// once for all of them. `wide` picks the AVX-512 build (the default where the CPU has it);
    /// the two agree up to rounding (bit for bit on the 32-value formats).
    @inline(__always)
    public static func rows(
        _ type: Weights, _ w: UnsafeRawPointer, rowBytes: Int, count: Int,
        _ x: QuantizedActivations, first: Int, nx: Int, into out: UnsafeMutablePointer<Float>, ldo: Int,
        wide: Bool = CPUFeatures.hasAVX512
    ) {
        precondition(nx >= 1 && nx <= maxRows && first + nx <= x.rows, "Programmer error: activation rows \(first)..<\(first + nx) of \(x.rows)")
        precondition(!wide || CPUFeatures.hasAVX512, "Programmer error: the AVX-512 kernels on a CPU without them")
        var view = x.kernelView(from: first)
        let status = wide
            ? rag_quant_dot_vnni(type.rawValue, w, rowBytes, Int32(count), &view, Int32(nx), out, ldo)
            : rag_quant_dot_avx2(type.rawValue, w, rowBytes, Int32(count), &view, Int32(nx), out, ldo)
        precondition(status == 0, "Programmer error: no kernel for \(type) × \(nx)")
    }

    /// Weight rows interleaved sixteen to a tile (Q4_K and the 32-value formats; `tiles(...)`):
    /// one zmm lane per row, so the per-block work is shared by sixteen rows. The same bytes as
    /// the rows, in the same order of sixteen-row groups: rows r… start r · rowBytes into the
    /// tiles. Only where the CPU has the AVX-512 kernels. (Q6_K tiles were tried: slower than its
    /// rows at every batch.)
    public static let tileRows = 16

    /// Whether `type` has tiles.
    public static func hasTiles(_ type: Weights) -> Bool { type != .q6_K }

    /// `rows` (a multiple of 16) rows of `columns` values from `w`, `rowBytes` apart, as tiles.
    public static func packTiles(_ type: Weights, _ w: UnsafeRawPointer, rowBytes: Int, rows: Int, columns: Int, into tiles: UnsafeMutableRawPointer) {
        precondition(rows % tileRows == 0 && hasTiles(type), "Programmer error: \(rows) rows of \(type) do not make tiles of \(tileRows)")
        if type == .q4_K {
            rag_q4_K_tiles_pack(w, rowBytes, Int32(rows), Int32(columns / 256), tiles)
        } else {
            let status = rag_tiles32_pack(type.rawValue, w, rowBytes, Int32(rows), Int32(columns / 32), tiles)
            precondition(status == 0, "Programmer error: no tiles for \(type)")
        }
    }

    /// Row `row` of a matrix packed by `packTiles`, as the rows store it (`rowBytes` into `out`).
    public static func tileRow(_ type: Weights, _ tiles: UnsafeRawPointer, columns: Int, row: Int, into out: UnsafeMutableRawPointer) {
        if type == .q4_K {
            rag_q4_K_tiles_row(tiles, Int32(columns / 256), Int32(row), out)
        } else {
            let status = rag_tiles32_row(type.rawValue, tiles, Int32(columns / 32), Int32(row), out)
            precondition(status == 0, "Programmer error: no tiles for \(type)")
        }
    }

    /// `rows(type, ...)` for `count` rows (a multiple of 16) packed by `packTiles`, from `tiles`.
    /// Up to rounding the rows' results (each block's sum scaled in another order); an activation
    /// row's result does not depend on how many rows share the pass.
    @inline(__always)
    public static func tiles(
        _ type: Weights, _ tiles: UnsafeRawPointer, count: Int, columns: Int,
        _ x: QuantizedActivations, first: Int, nx: Int, into out: UnsafeMutablePointer<Float>, ldo: Int
    ) {
        precondition(nx >= 1 && nx <= maxRows && first + nx <= x.rows, "Programmer error: activation rows \(first)..<\(first + nx) of \(x.rows)")
        precondition(CPUFeatures.hasAVX512, "Programmer error: the AVX-512 kernels on a CPU without them")
        var view = x.kernelView(from: first)
        let status = type == .q4_K
            ? rag_q4_K_tiles_dot(tiles, Int32(count), Int32(columns / 256), &view, Int32(nx), out, ldo)
            : rag_tiles32_dot(type.rawValue, tiles, Int32(count), Int32(columns / 32), &view, Int32(nx), out, ldo)
        precondition(status == 0, "Programmer error: \(type) tiles of \(count) rows × \(nx)")
    }
}
