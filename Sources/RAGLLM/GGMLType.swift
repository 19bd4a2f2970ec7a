internal import RAGKernels

/// The tensor types a GGUF file can hold (ggml's `ggml_type` numbering), with their block
/// geometry: `blockSize` elements are stored in `bytesPerBlock` bytes.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case bf16 = 30

    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1: 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K: 256
        }
    }

    public var bytesPerBlock: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q4_0: 18  // f16 scale + 16 bytes of nibbles
        case .q4_1: 20  // f16 scale, f16 min + 16
        case .q5_0: 22  // f16 scale + 4 bytes of high bits + 16
        case .q5_1: 24
        case .q8_0: 34  // f16 scale + 32 int8
        case .q8_1: 36
        case .q2_K: 84
        case .q3_K: 110
        case .q4_K: 144  // f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles
        case .q5_K: 176
        case .q6_K: 210  // 128 low nibbles, 64 high bits, 16 int8 scales, f16 d
        case .q8_K: 292
        }
    }

    public var description: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .bf16: "BF16"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"
        case .q5_1: "Q5_1"
        case .q8_0: "Q8_0"
        case .q8_1: "Q8_1"
        case .q2_K: "Q2_K"
        case .q3_K: "Q3_K"
        case .q4_K: "Q4_K"
        case .q5_K: "Q5_K"
        case .q6_K: "Q6_K"
        case .q8_K: "Q8_K"
        }
    }

    /// Bytes of a row of `elements` values, nil when `elements` is not a whole number of blocks.
    public func rowBytes(_ elements: Int) -> Int? {
        elements % blockSize == 0 ? elements / blockSize * bytesPerBlock : nil
    }
}

extension GGMLType {
    /// Decodes `count` values (whole blocks) starting at `src` into floats.
    public func dequantize(_ src: UnsafeRawPointer, count: Int, into y: UnsafeMutablePointer<Float>) {
        precondition(count % blockSize == 0, "Programmer error: \(count) values are not whole \(self) blocks")
        let blocks = count / blockSize
        switch self {
        case .f32: y.update(from: src.assumingMemoryBound(to: Float.self), count: count)
        case .f16: QuantBlocks.f16(src, count: count, into: y)
        case .bf16: QuantBlocks.bf16(src, count: count, into: y)
        case .q8_0: QuantBlocks.q8_0(src, blocks: blocks, into: y)
        case .q4_0: QuantBlocks.q4_0(src, blocks: blocks, into: y)
        case .q4_1: QuantBlocks.q4_1(src, blocks: blocks, into: y)
        case .q5_0: QuantBlocks.q5_0(src, blocks: blocks, into: y)
        case .q4_K: QuantBlocks.q4_K(src, blocks: blocks, into: y)
        case .q6_K: QuantBlocks.q6_K(src, blocks: blocks, into: y)
        case .q5_1, .q8_1, .q2_K, .q3_K, .q5_K, .q8_K:
            preconditionFailure("Programmer error: \(self) decoding is not implemented; check `isDecodable` first")
        }
    }

    /// The types this rag can decode (what the two supported models use, plus Q4_0).
    public var isDecodable: Bool {
        switch self {
        case .f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q4_K, .q6_K: true
        default: false
        }
    }
}
