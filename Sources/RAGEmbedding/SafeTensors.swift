internal import Foundation
internal import RAGCore

/// A memory-mapped safetensors file: an 8-byte little-endian header length, a JSON header
/// naming each tensor's dtype, shape and byte range, then the data.
///
/// Related: https://github.com/huggingface/safetensors (format description).
public final class SafeTensors: @unchecked Sendable {
    public enum DType: String, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", i64 = "I64"

        var size: Int {
            switch self {
            case .f32: 4
            case .f16, .bf16: 2
            case .i64: 8
            }
        }
    }

    public struct TensorInfo: Sendable, Equatable {
        public var dtype: DType
        public var shape: [Int]
        /// Byte range within the data section.
        public var range: Range<Int>
        public var count: Int { shape.reduce(1, *) }
    }

    public let path: String
    public let tensors: [String: TensorInfo]
    /// The whole file, mapped (immutable after init: safe to share).
    private let data: Data
    private let dataStart: Int

    public init(path: String) throws {
        self.path = path
        let data: Data
        // Too short to hold the header's length: refused before mapping (Foundation leaks a
        // page mapping an empty file).
        if let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue, size < 8 {
            throw RAGError(.corruptFile, "\(path): truncated safetensors file (\(size) bytes, need at least 8 for the header length); run `make models` again")
        }
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw RAGError(.notFound, "\(path): cannot read the safetensors file (\(error.localizedDescription)); run `make models`", underlying: error)
        }
        guard data.count >= 8 else {
            throw RAGError(.corruptFile, "\(path): truncated safetensors file (\(data.count) bytes, need at least 8 for the header length); run `make models` again")
        }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(data.count - 8), headerLength < 100_000_000 else {
            throw RAGError(.corruptFile, "\(path): safetensors header says \(headerLength) bytes but the file has \(data.count - 8) after the length; the file is truncated or not safetensors")
        }
        let headerData = data.subdata(in: 8..<(8 + Int(headerLength)))
        guard let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any] else {
            throw RAGError(.corruptFile, "\(path): the safetensors header is not a JSON object")
        }
        let dataStart = 8 + Int(headerLength)
        let available = data.count - dataStart
        var tensors: [String: TensorInfo] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
                let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else {
                throw RAGError(.corruptFile, "\(path): tensor '\(name)' lacks dtype, shape or data_offsets in the header")
            }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw RAGError(.unsupported, "\(path): tensor '\(name)' has dtype \(dtypeName); rag reads F32, F16, BF16 and I64")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= available else {
                throw RAGError(.corruptFile, "\(path): tensor '\(name)' spans bytes \(begin)..<\(end) but the data section has \(available); the file is truncated")
            }
            // Checked: a crafted shape (negative, or a product past Int) would trap.
            guard let bytes = Checked.product(shape + [dtype.size]) else {
                throw RAGError(.corruptFile, "\(path): tensor '\(name)' has shape \(shape), which no file can hold")
            }
            guard bytes == end - begin else {
                throw RAGError(.corruptFile, "\(path): tensor '\(name)' of shape \(shape) (\(dtypeName)) needs \(bytes) bytes, header gives \(end - begin)")
            }
            let info = TensorInfo(dtype: dtype, shape: shape, range: begin..<end)
            tensors[name] = info
        }
        self.data = data
        self.dataStart = dataStart
        self.tensors = tensors
    }

    /// The tensor's values as 32-bit floats (F16 and BF16 are widened), checked against `shape`.
    public func floats(_ name: String, shape expected: [Int]? = nil) throws -> [Float] {
        guard let info = tensors[name] else {
            throw RAGError(.corruptFile, "\(path): tensor '\(name)' is missing; is this the right model?")
        }
        if let expected, expected != info.shape {
            throw RAGError(.corruptFile, "\(path): tensor '\(name)' has shape \(info.shape), expected \(expected)")
        }
        return data.withUnsafeBytes { raw -> [Float] in
            let base = raw.baseAddress! + dataStart + info.range.lowerBound
            switch info.dtype {
            case .f32:
                return [Float](unsafeUninitializedCapacity: info.count) { buffer, count in
                    UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: base, byteCount: info.count * 4)
                    count = info.count
                }
            case .f16:
                return (0..<info.count).map { Float(Float16(bitPattern: base.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) }
            case .bf16:
                return (0..<info.count).map { Float(bitPattern: UInt32(base.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) << 16) }
            case .i64:
                return (0..<info.count).map { Float(base.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
            }
        }
    }
}
