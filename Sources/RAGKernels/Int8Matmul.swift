internal import CQuantDot

/// Dense layers in int8 with a scale per 32 values on both sides (ggml's Q8_0 × Q8_0): weights
/// quantized once at load, activations per block of 32 as they come, i32 sums per block scaled
/// once each. The per-block scales follow the activations' outliers, which one scale per token
/// cannot. The kernels are the generator's integer dots (`QuantDot`): where the CPU has AVX-512
/// VNNI the weights are tiles of sixteen rows (one `vpdpbusd` per four values of sixteen rows),
/// elsewhere rows (`vpmaddubsw`/`vpmaddwd`). Eight activation rows share each pass over a tile
/// of weights, which stays in L1 while every group of rows passes.
public enum Int8Matmul {
    /// A weight matrix (n × k) as Q8_0 rows: per 32 values an f16 scale d = max|w|/127 and
    /// q = round(w/d), as GGUF stores them (tiles of the same bytes where the CPU has VNNI).
    public struct Weights: Sendable {
        public let outputs: Int
        public let inputs: Int
        /// The Q8_0 rows, or their tiles (`tiled`).
        let bytes: [UInt8]
        let tiled: Bool

        /// Quantizes a PyTorch-layout weight (outputs × inputs), each block of 32 to its own scale.
        public init(_ weight: [Float], outputs n: Int, inputs k: Int) {
            precondition(weight.count == n * k && k % 32 == 0 && n % QuantDot.tileRows == 0, "Programmer error: Int8Matmul shapes \(n) × \(k)")
            outputs = n
            inputs = k
            let rowBytes = k / 32 * 34
            var rows = [UInt8](repeating: 0, count: n * rowBytes)
            weight.withUnsafeBufferPointer { w in
                rows.withUnsafeMutableBytes { QuantBlocks.encodeQ8_0(w.baseAddress!, count: n * k, into: $0.baseAddress!) }
            }
            tiled = CPUFeatures.hasAVX512
            guard tiled else {
                bytes = rows
                return
            }
            var tiles = [UInt8](repeating: 0, count: rows.count)
            rows.withUnsafeBytes { r in
                tiles.withUnsafeMutableBytes { QuantDot.packTiles(.q8_0, r.baseAddress!, rowBytes: rowBytes, rows: n, columns: k, into: $0.baseAddress!) }
            }
            bytes = tiles
        }

        var rowBytes: Int { inputs / 32 * 34 }

        /// Row `o` as the floats it stands for.
        public func row(_ o: Int) -> [Float] {
            var stored = [UInt8](repeating: 0, count: rowBytes)
            stored.withUnsafeMutableBytes { out in
                bytes.withUnsafeBytes { b in
                    if tiled {
                        QuantDot.tileRow(.q8_0, b.baseAddress!, columns: inputs, row: o, into: out.baseAddress!)
                    } else {
                        out.copyMemory(from: UnsafeRawBufferPointer(rebasing: b[(o * rowBytes)..<((o + 1) * rowBytes)]))
                    }
                }
            }
            var values = [Float](repeating: 0, count: inputs)
            stored.withUnsafeBytes { s in values.withUnsafeMutableBufferPointer { QuantBlocks.q8_0(s.baseAddress!, blocks: inputs / 32, into: $0.baseAddress!) } }
            return values
        }

        /// out[r · ldo + o] = W[o] · x[r] + bias[o] for weight rows `range` (whole tiles) and
        /// activation rows `xRows`, eight at a time per pass over each tile of sixteen weight rows;
        /// the bias is added while the tile's outputs are in L1.
        func product(
            _ x: QuantizedActivations, rows xRows: Range<Int>, outputs range: Range<Int>, bias: UnsafePointer<Float>?,
            into out: UnsafeMutablePointer<Float>, ldo: Int
        ) {
            bytes.withUnsafeBytes { b in
                for tile in stride(from: range.lowerBound, to: range.upperBound, by: QuantDot.tileRows) {
                    var first = xRows.lowerBound
                    while first < xRows.upperBound {
                        let nx = min(QuantDot.maxRows, xRows.upperBound - first)
                        let target = out + first * ldo + tile
                        if tiled {
                            QuantDot.tiles(.q8_0, b.baseAddress! + tile * rowBytes, count: QuantDot.tileRows, columns: inputs, x, first: first, nx: nx, into: target, ldo: ldo)
                        } else {
                            QuantDot.rows(.q8_0, b.baseAddress! + tile * rowBytes, rowBytes: rowBytes, count: QuantDot.tileRows, x, first: first, nx: nx, into: target, ldo: ldo)
                        }
                        if let bias {
                            let add = UnsafeRawPointer(bias + tile).loadUnaligned(as: SIMD16<Float>.self)
                            for r in 0..<nx {
                                let row = UnsafeMutableRawPointer(target + r * ldo)
                                row.storeBytes(of: row.loadUnaligned(as: SIMD16<Float>.self) + add, as: SIMD16<Float>.self)
                            }
                        }
                        first += nx
                    }
                }
            }
        }
    }

    /// out (m × n) = x (m × k) · Wᵀ + bias, x quantized on the way in; the rows (or, for a few
    /// rows, the outputs) split over `threads`.
    public static func multiply(
        _ x: UnsafePointer<Float>, rows m: Int, _ w: Weights, inner k: Int, outputs n: Int,
        bias: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>, threads: Int
    ) {
        precondition(k == w.inputs && n == w.outputs, "Programmer error: Int8Matmul shapes")
        let activations = QuantizedActivations(format: .q8_0, width: k, capacity: m)
        let p = UnsafeTransfer((x: x, out: out, bias: bias))
        let blocks = k / 32
        if m >= 8 * threads {
            // Many rows: each thread quantizes and multiplies its own rows.
            activations.reserve(rows: m)
            let parts = max(1, threads)
            Parallel.forEach(parts, threads: parts) { part, _ in
                let v = p.value
                let start = m * part / parts, end = m * (part + 1) / parts
                for r in start..<end { activations.quantize(v.x + r * k, row: r, blocks: 0..<blocks) }
                w.product(activations, rows: start..<end, outputs: 0..<n, bias: v.bias, into: v.out, ldo: n)
            }
        } else {
            // A few rows (a query): the outputs split over the threads, whole tiles each.
            activations.quantize(x, rows: m, stride: k)
            let tiles = n / QuantDot.tileRows
            let parts = max(1, min(threads, tiles / 4))
            Parallel.forEach(parts, threads: parts) { part, _ in
                let v = p.value
                let range = (tiles * part / parts * QuantDot.tileRows)..<(tiles * (part + 1) / parts * QuantDot.tileRows)
                w.product(activations, rows: 0..<m, outputs: range, bias: v.bias, into: v.out, ldo: n)
            }
        }
    }
}
