internal import Foundation
internal import RAGCore
internal import RAGKernels
internal import RAGKernelsAVX512

/// Memory a repacked matrix owns.
final class OwnedBytes: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    init(count: Int) { pointer = .allocate(byteCount: count, alignment: 64) }
    deinit { pointer.deallocate() }
}

/// A weight matrix in its stored (quantized) form, in place in the memory-mapped file: `rows`
/// rows of `columns` values, each row `rowBytes` bytes (ggml's ne0 = columns, ne1 = rows).
///
/// Q4_0 and Q5_0 rows are repacked at load into Q8_0 blocks and Q4_1 rows into int8 blocks with
/// the f16 scale and minimum (`Layout.q8min`): the same values exactly (a 4- or 5-bit code fits
/// an int8), read by one fast int8 kernel instead of nibble unpacking in the inner loop, the way
/// llama.cpp repacks weights for its CPU kernels. The file's pages are then released.
struct Matrix: @unchecked Sendable {
    enum Layout { case stored, q8_0, q8min }

    let name: String
    /// The type in the file (what the activations are quantized for).
    let type: GGMLType
    let layout: Layout
    let rows: Int
    let columns: Int
    let rowBytes: Int
    let data: UnsafeRawPointer
    private let owned: OwnedBytes?

    /// `repack`: false for a matrix only ever read a row at a time by index (the embedding table
    /// of a model with a separate output matrix).
    init(_ file: GGUFFile, _ name: String, rows: Int? = nil, columns: Int, repack: Bool = true) throws {
        guard let info = file.tensor(name) else {
            throw RAGError(.corruptFile, "\(file.path): tensor \"\(name)\" is missing")
        }
        guard info.shape.count <= 2, info.shape[0] == columns, rows == nil || info.shape.count == 2 && info.shape[1] == rows! else {
            throw RAGError(.corruptFile, "\(file.path): tensor \"\(name)\" has shape \(info.shape), expected [\(columns), \(rows.map(String.init) ?? "any")]")
        }
        guard info.type.isDecodable else {
            throw RAGError(.unsupported, "\(file.path): tensor \"\(name)\" is \(info.type); this rag computes with F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q6_K")
        }
        self.name = name
        type = info.type
        self.columns = columns
        let rows = info.shape.count == 2 ? info.shape[1] : 1
        self.rows = rows
        let stored = file.bytes(of: info)
        let blocks = columns / 32
        switch info.type {
        case .q4_0 where repack, .q5_0 where repack, .q4_1 where repack:
            let q8 = info.type != .q4_1
            layout = q8 ? .q8_0 : .q8min
            rowBytes = blocks * (q8 ? 34 : 36)
            let owned = OwnedBytes(count: rows * rowBytes)
            let source = UnsafeTransfer(stored.baseAddress!), target = UnsafeTransfer(owned.pointer)
            let (inBytes, outBytes, type) = (info.type.rowBytes(columns)!, rowBytes, info.type)
            Parallel.forEach(rows, threads: ProcessInfo.processInfo.activeProcessorCount) { r, _ in
                Matrix.repack(type, source.value + r * inBytes, blocks: blocks, into: target.value + r * outBytes)
            }
            self.owned = owned
            data = UnsafeRawPointer(owned.pointer)
            file.release(info)
        default:
            layout = .stored
            rowBytes = info.type.rowBytes(columns)!
            data = stored.baseAddress!
            owned = nil
        }
    }

    /// One row's blocks into int8 blocks: Q4_0 → q − 8, Q5_0 → q − 16 (both with the f16 scale,
    /// as Q8_0); Q4_1 → q with the f16 scale and minimum.
    static func repack(_ type: GGMLType, _ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutableRawPointer) {
        for b in 0..<blocks {
            switch type {
            case .q4_0, .q5_0:
                let block = src + b * (type == .q4_0 ? 18 : 22), out = dst + b * 34
                out.copyMemory(from: block, byteCount: 2)
                let q = out.advanced(by: 2).assumingMemoryBound(to: Int8.self)
                let high = type == .q5_0 ? block.loadUnaligned(fromByteOffset: 2, as: UInt32.self) : 0
                let nibbles = (block + (type == .q4_0 ? 2 : 6)).assumingMemoryBound(to: UInt8.self)
                let offset: Int32 = type == .q4_0 ? 8 : 16
                for j in 0..<16 {
                    let h0 = Int32(bitPattern: (high >> UInt32(j)) & 1) << 4, h1 = Int32(bitPattern: (high >> UInt32(j + 16)) & 1) << 4
                    q[j] = Int8(truncatingIfNeeded: (Int32(nibbles[j] & 0x0F) | h0) - offset)
                    q[j + 16] = Int8(truncatingIfNeeded: (Int32(nibbles[j] >> 4) | h1) - offset)
                }
            default:  // .q4_1
                let block = src + b * 20, out = dst + b * 36
                out.copyMemory(from: block, byteCount: 4)
                let q = out.advanced(by: 4).assumingMemoryBound(to: Int8.self)
                let nibbles = (block + 4).assumingMemoryBound(to: UInt8.self)
                for j in 0..<16 {
                    q[j] = Int8(nibbles[j] & 0x0F)
                    q[j + 16] = Int8(nibbles[j] >> 4)
                }
            }
        }
    }

    /// Rows of Q8_0 blocks, as stored or after repacking.
    var hasQ8_0Rows: Bool { layout == .q8_0 || (layout == .stored && type == .q8_0) }

    /// The activation format this matrix's integer dot wants; nil for float matrices.
    var activationFormat: ActivationFormat? {
        switch type {
        case .q8_0, .q4_0, .q5_0: .q8_0
        case .q4_1: .q8_1
        case .q4_K, .q6_K: .q8_K
        default: nil
        }
    }

    func row(_ r: Int) -> UnsafeRawPointer { data + r * rowBytes }

    /// Row `r` as floats.
    func decodeRow(_ r: Int, into y: UnsafeMutablePointer<Float>) {
        switch layout {
        case .stored: type.dequantize(row(r), count: columns, into: y)
        case .q8_0: QuantBlocks.q8_0(row(r), blocks: columns / 32, into: y)
        case .q8min:
            let p = row(r)
            for b in 0..<columns / 32 {
                let block = p + b * 36
                let d = Float(Float16(bitPattern: block.loadUnaligned(as: UInt16.self)))
                let m = Float(Float16(bitPattern: block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
                let q = (block + 4).assumingMemoryBound(to: Int8.self)
                for j in 0..<32 { y[b * 32 + j] = d * Float(q[j]) + m }
            }
        }
    }

    /// The dot of row `r` with a quantized activation row.
    @inline(__always)
    func dot(_ r: Int, _ x: QuantizedRow) -> Float {
        let w = row(r)
        switch layout {
        case .q8_0: return QuantDot.q8_0(w, x, blocks: columns / 32)
        case .q8min: return QuantDot.q8min(w, x, blocks: columns / 32)
        case .stored: break
        }
        switch type {
        case .q8_0: return QuantDot.q8_0(w, x, blocks: columns / 32)
        case .q4_0: return QuantDot.q4_0(w, x, blocks: columns / 32)
        case .q4_1: return QuantDot.q4_1(w, x, blocks: columns / 32)
        case .q5_0: return QuantDot.q5_0(w, x, blocks: columns / 32)
        case .q4_K: return QuantDot.q4_K(w, x, blocks: columns / 256)
        case .q6_K: return QuantDot.q6_K(w, x, blocks: columns / 256)
        default: preconditionFailure("Programmer error: \(type) has no integer dot")
        }
    }
}
