import RAGKernels
import RAGLLM
import RAGTesting
import Testing

/// Random block bytes with finite f16 scales at the given offsets.
func randomBlocks(_ type: GGMLType, blocks: Int, scaleOffsets: [Int], seed: UInt64) -> [UInt8] {
    var state = seed
    var bytes = (0..<(blocks * type.bytesPerBlock)).map { _ -> UInt8 in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 56)
    }
    for b in 0..<blocks {
        for (k, offset) in scaleOffsets.enumerated() {
            let scale = Float16(Float(b % 7 + 1) * (k == 0 ? 0.013 : 0.0071))
            let bits = scale.bitPattern
            bytes[b * type.bytesPerBlock + offset] = UInt8(bits & 0xFF)
            bytes[b * type.bytesPerBlock + offset + 1] = UInt8(bits >> 8)
        }
    }
    return bytes
}

func half(_ bytes: [UInt8], _ at: Int) -> Float { Float(Float16(bitPattern: UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8)) }

/// Element e of a block, decoded one element at a time straight from the format's description.
func plainElement(_ type: GGMLType, _ block: [UInt8], _ e: Int) -> Float {
    func nibble(_ byte: UInt8, high: Bool) -> Int { Int(high ? byte >> 4 : byte & 0x0F) }
    func scaleMin(_ s: ArraySlice<UInt8>, _ j: Int) -> (Int, Int) {
        let s = Array(s)
        if j < 4 { return (Int(s[j] & 63), Int(s[j + 4] & 63)) }
        return (Int((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4)), Int((s[j + 4] >> 4) | ((s[j] >> 6) << 4)))
    }
    switch type {
    case .q8_0: return half(block, 0) * Float(Int8(bitPattern: block[2 + e]))
    case .q4_0: return half(block, 0) * Float(nibble(block[2 + e % 16], high: e >= 16) - 8)
    case .q4_1: return half(block, 0) * Float(nibble(block[4 + e % 16], high: e >= 16)) + half(block, 2)
    case .q5_0:
        let high = UInt32(block[2]) | UInt32(block[3]) << 8 | UInt32(block[4]) << 16 | UInt32(block[5]) << 24
        let fifth = Int((high >> UInt32(e)) & 1) << 4
        return half(block, 0) * Float((nibble(block[6 + e % 16], high: e >= 16) | fifth) - 16)
    case .q4_K:
        let sub = e / 32
        let (scale, min) = scaleMin(block[4..<16], sub)
        let q = nibble(block[16 + (e / 64) * 32 + e % 32], high: sub % 2 == 1)
        return half(block, 0) * Float(scale) * Float(q) - half(block, 2) * Float(min)
    case .q6_K:
        let halfIndex = e / 128, r = e % 128, quarter = r / 32, l = r % 32
        let low = nibble(block[halfIndex * 64 + l + (quarter % 2 == 1 ? 32 : 0)], high: quarter >= 2)
        let top = Int((block[128 + halfIndex * 32 + l] >> UInt8(quarter * 2)) & 3)
        let scale = Int8(bitPattern: block[192 + halfIndex * 8 + l / 16 + quarter * 2])
        return half(block, 208) * Float(scale) * Float((low | top << 4) - 32)
    default: fatalError("no plain decoder for \(type)")
    }
}

@Suite(.onTestThreads) struct QuantTests {
    @Test(arguments: [
        (GGMLType.q8_0, [0]), (.q4_0, [0]), (.q4_1, [0, 2]), (.q5_0, [0]), (.q4_K, [0, 2]), (.q6_K, [208]),
    ])
    func blockDecodersMatchTheFormatElementByElement(type: GGMLType, scales: [Int]) {
        let blocks = 5
        let bytes = randomBlocks(type, blocks: blocks, scaleOffsets: scales, seed: UInt64(type.rawValue) + 1)
        var out = [Float](repeating: .nan, count: blocks * type.blockSize)
        bytes.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { type.dequantize(raw.baseAddress!, count: $0.count, into: $0.baseAddress!) } }
        var worst: Float = 0
        for b in 0..<blocks {
            let block = Array(bytes[b * type.bytesPerBlock..<(b + 1) * type.bytesPerBlock])
            for e in 0..<type.blockSize {
                worst = max(worst, abs(out[b * type.blockSize + e] - plainElement(type, block, e)))
            }
        }
        #expect(worst <= 1e-6, "\(type): max |Δ| \(worst)")
        #expect(type.isDecodable)
    }

    @Test func knownValues() {
        // Q4_0 with d = 2: nibbles 0…15 → −16…14 (low nibbles first, then high).
        var q40: [UInt8] = [0x00, 0x40]  // f16 2.0
        q40 += (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
        var out = [Float](repeating: 0, count: 32)
        q40.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { GGMLType.q4_0.dequantize(raw.baseAddress!, count: 32, into: $0.baseAddress!) } }
        let low: [Float] = (0..<16).map { i in Float(2 * (i - 8)) }
        let high: [Float] = (0..<16).map { i in Float(2 * (7 - i)) }
        #expect(Array(out[..<16]) == low)
        #expect(Array(out[16...]) == high)
        // F16 and BF16.
        let f16: [UInt8] = [0x00, 0x3C, 0x00, 0xC0]  // 1.0, −2.0
        f16.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { GGMLType.f16.dequantize(raw.baseAddress!, count: 2, into: $0.baseAddress!) } }
        #expect(Array(out[..<2]) == [1, -2])
        let bf16: [UInt8] = [0x80, 0x3F, 0x40, 0xC0]  // 1.0, −3.0
        bf16.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { GGMLType.bf16.dequantize(raw.baseAddress!, count: 2, into: $0.baseAddress!) } }
        #expect(Array(out[..<2]) == [1, -3])
    }
}

@Suite(.onTestThreads) struct QuantDotTests {
    static func randomActivations(_ n: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<n).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 40) % 20_001 - 10_000) / 2_500
        }
    }

    /// Integer dots against quantized activations equal the plain dot of the dequantized weights
    /// with the dequantized activations (up to float summation order), and stay close to the dot
    /// with the original activations — for one to eight activation rows per pass over the weights.
    @Test(arguments: [
        (GGMLType.q8_0, [0]), (.q4_0, [0]), (.q4_1, [0, 2]), (.q5_0, [0]), (.q4_K, [0, 2]), (.q6_K, [208]),
    ])
    func integerDotsMatchDequantizeThenDot(type: GGMLType, scales: [Int]) throws {
        let n = 768, weightRows = 3, xRows = 8
        let kind = try #require(QuantDot.Weights(rawValue: Int32(type.rawValue)))
        let rowBytes = n / type.blockSize * type.bytesPerBlock
        let weights = randomBlocks(type, blocks: weightRows * n / type.blockSize, scaleOffsets: scales, seed: 77 + UInt64(type.rawValue))
        let x = Self.randomActivations(xRows * n, seed: 5)
        let activations = QuantizedActivations(format: kind.activations, width: n, capacity: xRows)
        x.withUnsafeBufferPointer { activations.quantize($0.baseAddress!, rows: xRows, stride: n) }
        var w = [Float](repeating: 0, count: weightRows * n)
        weights.withUnsafeBytes { raw in w.withUnsafeMutableBufferPointer { type.dequantize(raw.baseAddress!, count: $0.count, into: $0.baseAddress!) } }
        // Q4_1's minimum uses the f16-rounded block sum, as ggml's Q8_1 does: a little looser.
        let tolerance = type == .q4_1 ? 2e-3 : 1e-5
        for nx in 1...QuantDot.maxRows {
            for first in stride(from: 0, to: xRows - nx + 1, by: max(1, xRows - nx)) {
                var out = [Float](repeating: .nan, count: nx * weightRows)
                weights.withUnsafeBytes { raw in
                    out.withUnsafeMutableBufferPointer {
                        QuantDot.rows(kind, raw.baseAddress!, rowBytes: rowBytes, count: weightRows, activations, first: first, nx: nx, into: $0.baseAddress!, ldo: weightRows)
                    }
                }
                for r in 0..<nx {
                    for o in 0..<weightRows {
                        // Errors are measured against Σ|wᵢxᵢ| (what rounding scales with), not
                        // against the dot itself, which cancellation can bring near zero.
                        var viaQuantized = 0.0, exact = 0.0, magnitude = 0.0
                        for i in 0..<n {
                            viaQuantized += Double(w[o * n + i]) * Double(activations.value(row: first + r, i))
                            exact += Double(w[o * n + i]) * Double(x[(first + r) * n + i])
                            magnitude += abs(Double(w[o * n + i]) * Double(x[(first + r) * n + i]))
                        }
                        let fast = Double(out[r * weightRows + o])
                        #expect(abs(fast - viaQuantized) / max(1, magnitude) < tolerance, "\(type) nx \(nx) row \(first + r)·\(o): \(fast) vs \(viaQuantized)")
                        #expect(abs(fast - exact) / max(1, magnitude) < 0.01, "\(type) nx \(nx): \(fast) vs exact \(exact)")
                    }
                }
            }
        }
    }

    /// The AVX-512 build agrees with the AVX2 build for one to eight activation rows: bit for bit
    /// on the 32-value formats (vpdpbusd sums the lanes vpmaddubsw and vpmaddwd sum), and up to
    /// the rounding of differently grouped lanes on the K-quants (vpdpbusd per 64 values, then the
    /// scales); in either build an activation row's result does not depend on how many rows share
    /// the pass (a draft token verified in a batch gets the logits it gets alone).
    @Test(arguments: [GGMLType.q8_0, .q4_0, .q4_1, .q5_0, .q4_K, .q6_K])
    func theAVX512KernelsAgreeWithTheAVX2Ones(type: GGMLType) throws {
        guard CPUFeatures.hasAVX512 else { return }
        let n = 1024, weightRows = 5, xRows = 8
        let kind = try #require(QuantDot.Weights(rawValue: Int32(type.rawValue)))
        let rowBytes = n / type.blockSize * type.bytesPerBlock
        let scales = [GGMLType.q4_1: [0, 2], .q4_K: [0, 2], .q6_K: [208]][type] ?? [0]
        let weights = randomBlocks(type, blocks: weightRows * n / type.blockSize, scaleOffsets: scales, seed: 91 + UInt64(type.rawValue))
        let x = Self.randomActivations(xRows * n, seed: 17)
        let activations = QuantizedActivations(format: kind.activations, width: n, capacity: xRows)
        x.withUnsafeBufferPointer { activations.quantize($0.baseAddress!, rows: xRows, stride: n) }
        var w = [Float](repeating: 0, count: weightRows * n)
        weights.withUnsafeBytes { raw in w.withUnsafeMutableBufferPointer { type.dequantize(raw.baseAddress!, count: $0.count, into: $0.baseAddress!) } }
        var lastRow: [Bool: [UInt32]] = [:]
        for nx in 1...QuantDot.maxRows {
            var results: [Bool: [Float]] = [:]
            for wide in [false, true] {
                var out = [Float](repeating: .nan, count: nx * weightRows)
                weights.withUnsafeBytes { raw in
                    out.withUnsafeMutableBufferPointer {
                        QuantDot.rows(kind, raw.baseAddress!, rowBytes: rowBytes, count: weightRows, activations, first: xRows - nx, nx: nx, into: $0.baseAddress!, ldo: weightRows, wide: wide)
                    }
                }
                #expect(!out.contains { $0.isNaN })
                results[wide] = out
                // Activation row xRows − 1 is the last of every pass.
                let last = out[((nx - 1) * weightRows)...].map(\.bitPattern)
                if let alone = lastRow[wide] { #expect(last == alone, "\(type) wide \(wide): row \(xRows - 1) differs with \(nx) rows") }
                lastRow[wide] = last
            }
            let narrow = results[false]!, wideOut = results[true]!
            if type.blockSize == 32 {
                #expect(narrow.map(\.bitPattern) == wideOut.map(\.bitPattern), "\(type) nx \(nx): \(narrow.prefix(3)) vs \(wideOut.prefix(3))")
            } else {
                for r in 0..<nx {
                    for o in 0..<weightRows {
                        var magnitude = 0.0
                        for i in 0..<n { magnitude += abs(Double(w[o * n + i]) * Double(activations.value(row: xRows - nx + r, i))) }
                        let i = r * weightRows + o
                        #expect(abs(Double(narrow[i]) - Double(wideOut[i])) / max(1, magnitude) < 1e-6, "\(type) nx \(nx): \(narrow[i]) vs \(wideOut[i])")
                    }
                }
            }
        }
    }

    /// Rows packed sixteen to a tile (Q4_K and the 32-value formats) give what the row-major
    /// kernel gives, up to rounding (per-block sums scaled in a different order), for one to eight
    /// activation rows, and a row's result does not depend on how many rows share the pass; each
    /// row reads back out of the tiles as stored.
    @Test(arguments: [GGMLType.q4_K, .q8_0, .q4_0, .q4_1, .q5_0])
    func tilesAgreeWithTheRows(type: GGMLType) throws {
        guard CPUFeatures.hasAVX512 else { return }
        let n = 1536, weightRows = 48, xRows = 8
        let kind = try #require(QuantDot.Weights(rawValue: Int32(type.rawValue)))
        let rowBytes = n / type.blockSize * type.bytesPerBlock
        let scales = [GGMLType.q4_1: [0, 2], .q4_K: [0, 2]][type] ?? [0]
        let weights = randomBlocks(type, blocks: weightRows * n / type.blockSize, scaleOffsets: scales, seed: 123 + UInt64(type.rawValue))
        let x = Self.randomActivations(xRows * n, seed: 29)
        let activations = QuantizedActivations(format: kind.activations, width: n, capacity: xRows)
        x.withUnsafeBufferPointer { activations.quantize($0.baseAddress!, rows: xRows, stride: n) }
        var w = [Float](repeating: 0, count: weightRows * n)
        weights.withUnsafeBytes { raw in w.withUnsafeMutableBufferPointer { type.dequantize(raw.baseAddress!, count: $0.count, into: $0.baseAddress!) } }
        var tiles = [UInt8](repeating: 0, count: weights.count)
        weights.withUnsafeBytes { raw in
            tiles.withUnsafeMutableBytes { QuantDot.packTiles(kind, raw.baseAddress!, rowBytes: rowBytes, rows: weightRows, columns: n, into: $0.baseAddress!) }
        }
        // Every row comes back out of the tiles as it was stored.
        var row = [UInt8](repeating: 0, count: rowBytes)
        for r in 0..<weightRows {
            tiles.withUnsafeBytes { raw in row.withUnsafeMutableBytes { QuantDot.tileRow(kind, raw.baseAddress!, columns: n, row: r, into: $0.baseAddress!) } }
            #expect(row == Array(weights[r * rowBytes..<(r + 1) * rowBytes]), "\(type) row \(r) out of the tiles")
        }
        var lastRow: [UInt32]?
        for nx in 1...QuantDot.maxRows {
            let first = xRows - nx
            var byRows = [Float](repeating: .nan, count: nx * weightRows), byTiles = byRows
            weights.withUnsafeBytes { raw in
                byRows.withUnsafeMutableBufferPointer {
                    QuantDot.rows(kind, raw.baseAddress!, rowBytes: rowBytes, count: weightRows, activations, first: first, nx: nx, into: $0.baseAddress!, ldo: weightRows)
                }
            }
            // The second and third tiles from their own start, as a thread's share is called.
            tiles.withUnsafeBytes { raw in
                byTiles.withUnsafeMutableBufferPointer { out in
                    QuantDot.tiles(kind, raw.baseAddress!, count: 16, columns: n, activations, first: first, nx: nx, into: out.baseAddress!, ldo: weightRows)
                    QuantDot.tiles(kind, raw.baseAddress! + 16 * rowBytes, count: 32, columns: n, activations,
                                   first: first, nx: nx, into: out.baseAddress! + 16, ldo: weightRows)
                }
            }
            #expect(!byTiles.contains { $0.isNaN })
            for r in 0..<nx {
                for o in 0..<weightRows {
                    var magnitude = 0.0
                    for i in 0..<n { magnitude += abs(Double(w[o * n + i]) * Double(activations.value(row: first + r, i))) }
                    let i = r * weightRows + o
                    #expect(abs(Double(byRows[i]) - Double(byTiles[i])) / max(1, magnitude) < 1e-6, "nx \(nx) row \(first + r)·\(o): \(byRows[i]) vs \(byTiles[i])")
                }
            }
            let last = byTiles[((nx - 1) * weightRows)...].map(\.bitPattern)
            if let lastRow { #expect(last == lastRow, "row \(xRows - 1) differs with \(nx) rows") }
            lastRow = last
        }
    }

    @Test func activationBlocksRoundAsGGMLDoes() {
        var x = [Float](repeating: 0, count: 64)
        for j in 0..<32 { x[j] = Float(j) - 15.5 }  // max |x| 15.5 → d = 15.5 / 127
        x[1] = 0.5 * 15.5 / 127  // exactly half a step: rounds to even (0)
        x[2] = 1.5 * 15.5 / 127  // → 2
        let a = QuantizedActivations(format: .q8_0, width: 64, capacity: 1)
        x.withUnsafeBufferPointer { a.quantize($0.baseAddress!, rows: 1, stride: 64) }
        #expect(a.quants[0] == -127 && a.quants[31] == 127)
        #expect(a.quants[1] == 0 && a.quants[2] == 2)
        #expect(a.scales[0] == Float(Float16(Float(15.5) / 127)))
        #expect(a.scales[1] == 0 && (32..<64).allSatisfy { a.quants[$0] == 0 })
        // Q8_K: the value of largest magnitude maps to −127 (so a positive maximum to +127 after
        // the sign of the scale), the scale is kept in f32, and groups of 16 and 32 are summed.
        var y = [Float](repeating: 0.25, count: 256)
        y[7] = -3
        let b = QuantizedActivations(format: .q8_K, width: 256, capacity: 1)
        y.withUnsafeBufferPointer { b.quantize($0.baseAddress!, rows: 1, stride: 256) }
        #expect(b.quants[7] == -127 && b.scales[0] == 1 / (-127 / Float(-3)))
        #expect(b.sum16[0] == Int16(b.quants[7]) + 15 * Int16(b.quants[0]) && b.sum16[1] == 16 * Int16(b.quants[0]))
        #expect(b.sum32[0] == b.sum16[0] + b.sum16[1])
    }
}
