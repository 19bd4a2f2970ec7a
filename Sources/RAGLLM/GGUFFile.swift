internal import RAGCore
internal import Foundation
#if canImport(Glibc)
internal import Glibc
#endif

/// One tensor of a GGUF file: where its bytes are and how to read them.
public struct GGUFTensorInfo: Sendable, Equatable {
    public var name: String
    /// ggml order: `shape[0]` is the row length (contiguous), then rows, …
    public var shape: [Int]
    public var type: GGMLType
    /// Offset of the first byte in the file.
    public var offset: Int
    public var byteCount: Int
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A GGUF model file (versions 2 and 3), memory-mapped: metadata parsed into values, tensor data
/// left in place. Every problem is a `RAGError` saying what was expected, what was found and where.
///
/// Layout: magic "GGUF", version (u32), tensor count (u64), metadata count (u64); metadata as
/// (string key, u32 type, value); tensor infos as (string name, u32 dims, u64 × dims, u32 type,
/// u64 offset); then, aligned to `general.alignment` (default 32), the tensor data.
public final class GGUFFile: @unchecked Sendable {
    public static let magic: UInt32 = 0x4655_4747  // "GGUF" little-endian
    public static let maxDimensions = 4

    public let path: String
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let keys: [String]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Where tensor data starts (tensor offsets are relative to it in the file).
    public let dataOffset: Int
    public let fileSize: Int
    private let base: UnsafeRawPointer?
    private let byName: [String: Int]
    /// Device, inode, size and modification time when mapped (see `changedOnDisk`).
    private let identity: [Int]

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw RAGError(.notFound, "\(path): cannot open the model file (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw RAGError(.io, "\(path): cannot stat the model file") }
        fileSize = Int(info.st_size)
        identity = Self.identity(info)
        guard fileSize > 0 else { throw RAGError(.corruptFile, "\(path): empty file, expected a GGUF model") }
        guard let mapped = mmap(nil, fileSize, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw RAGError(.io, "\(path): cannot map the model file (\(String(cString: strerror(errno))))")
        }
        base = UnsafeRawPointer(mapped)
        var reader = Reader(base: UnsafeRawPointer(mapped), size: fileSize, path: path)
        do {
            let magic = try reader.u32("the magic number")
            guard magic == Self.magic else {
                let found = withUnsafeBytes(of: magic.littleEndian) { String(decoding: $0.map { (32..<127).contains($0) ? $0 : 63 }, as: UTF8.self) }
                throw RAGError(.corruptFile, "\(path): not a GGUF file (expected the magic \"GGUF\" at offset 0, found \"\(found)\")")
            }
            version = try reader.u32("the version")
            guard version == 2 || version == 3 else {
                throw RAGError(.unsupported, "\(path): GGUF version \(version) at offset 4; this rag reads versions 2 and 3")
            }
            let tensorCount = try reader.count("the tensor count", limit: 1 << 20)
            let keyCount = try reader.count("the metadata count", limit: 1 << 20)
            var metadata: [String: GGUFValue] = [:]
            var keys: [String] = []
            for _ in 0..<keyCount {
                let keyOffset = reader.position
                let key = try reader.string("a metadata key")
                let value = try reader.value(for: key)
                guard metadata.updateValue(value, forKey: key) == nil else {
                    throw RAGError(.corruptFile, "\(path): metadata key \"\(key)\" appears twice (second at offset \(keyOffset))")
                }
                keys.append(key)
            }
            self.metadata = metadata
            self.keys = keys
            var alignment = 32
            if let value = metadata["general.alignment"] {
                guard let a = value.int, a > 0, a & (a - 1) == 0 else {
                    throw RAGError(.corruptFile, "\(path): general.alignment must be a power of two, found \(value)")
                }
                alignment = a
            }
            self.alignment = alignment
            var infos: [(name: String, shape: [Int], type: GGMLType, offset: Int, at: Int)] = []
            for _ in 0..<tensorCount {
                let at = reader.position
                let name = try reader.string("a tensor name")
                let dims = Int(try reader.u32("the dimension count of tensor \(name)"))
                guard (1...Self.maxDimensions).contains(dims) else {
                    throw RAGError(.corruptFile, "\(path): tensor \(name) (info at offset \(at)) has \(dims) dimensions; expected 1 to \(Self.maxDimensions)")
                }
                var shape: [Int] = []
                for _ in 0..<dims {
                    let n = try reader.u64("a dimension of tensor \(name)")
                    guard n > 0, n < 1 << 32 else { throw RAGError(.corruptFile, "\(path): tensor \(name) has a dimension of \(n)") }
                    shape.append(Int(n))
                }
                let rawType = try reader.u32("the type of tensor \(name)")
                guard let type = GGMLType(rawValue: rawType) else {
                    throw RAGError(.unsupported, "\(path): tensor \(name) has unknown type \(rawType) (info at offset \(at)); this rag reads \(GGMLType.allCases.map(\.description).joined(separator: ", "))")
                }
                let offset = try reader.u64("the data offset of tensor \(name)")
                guard offset < UInt64(Int.max / 2) else { throw RAGError(.corruptFile, "\(path): tensor \(name) has data offset \(offset)") }
                infos.append((name, shape, type, Int(offset), at))
            }
            dataOffset = (reader.position + alignment - 1) / alignment * alignment
            var tensors: [GGUFTensorInfo] = []
            var byName: [String: Int] = [:]
            for info in infos {
                guard info.offset % alignment == 0 else {
                    throw RAGError(.corruptFile, "\(path): tensor \(info.name) data offset \(info.offset) is not a multiple of the alignment \(alignment)")
                }
                guard let rowBytes = info.type.rowBytes(info.shape[0]) else {
                    throw RAGError(.corruptFile, "\(path): tensor \(info.name) rows of \(info.shape[0]) values are not whole \(info.type) blocks of \(info.type.blockSize)")
                }
                // Checked: a crafted shape overflows any product.
                guard let bytes = Checked.product([rowBytes] + info.shape.dropFirst()), let start = Checked.sum(dataOffset, info.offset),
                      let end = Checked.sum(start, bytes) else {
                    throw RAGError(.corruptFile, "\(path): tensor \(info.name) of shape \(info.shape) (\(info.type)) is larger than any file")
                }
                guard end <= fileSize else {
                    throw RAGError(.corruptFile, "\(path): truncated: tensor \(info.name) needs bytes \(start)..<\(start + bytes) but the file ends at \(fileSize)")
                }
                guard byName.updateValue(tensors.count, forKey: info.name) == nil else {
                    throw RAGError(.corruptFile, "\(path): tensor \(info.name) appears twice")
                }
                tensors.append(GGUFTensorInfo(name: info.name, shape: info.shape, type: info.type, offset: start, byteCount: bytes))
            }
            let ordered = tensors.sorted { $0.offset < $1.offset }
            for (a, b) in zip(ordered, ordered.dropFirst()) where a.offset + a.byteCount > b.offset {
                throw RAGError(.corruptFile, "\(path): tensors \(a.name) (bytes \(a.offset)..<\(a.offset + a.byteCount)) and \(b.name) (from \(b.offset)) overlap")
            }
            self.tensors = tensors
            self.byName = byName
        } catch {
            munmap(mapped, fileSize)
            throw error
        }
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), fileSize) }
    }

    public func tensor(_ name: String) -> GGUFTensorInfo? { byName[name].map { tensors[$0] } }

    /// The bytes of a tensor, in place in the mapped file (valid while this object lives).
    public func bytes(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base! + tensor.offset, count: tensor.byteCount)
    }

    static func identity(_ info: stat) -> [Int] {
        [Int(info.st_dev), Int(info.st_ino), Int(info.st_size), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec)]
    }

    /// Whether the file at `path` was written, truncated or replaced since it was mapped. A file
    /// replaced by renaming a new one over it leaves our mapping on the old one (safe); a file
    /// written in place changes weights under the mapping — callers check before each use.
    public var changedOnDisk: Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return true }
        return Self.identity(info) != identity
    }

    /// A metadata value that must be there.
    public func require(_ key: String) throws -> GGUFValue {
        guard let value = metadata[key] else {
            throw RAGError(.corruptFile, "\(path): required metadata key \"\(key)\" is missing")
        }
        return value
    }

    public func requireInt(_ key: String) throws -> Int {
        let value = try require(key)
        guard let int = value.int else { throw RAGError(.corruptFile, "\(path): metadata \"\(key)\" should be an integer, found \(value)") }
        return int
    }

    public func requireString(_ key: String) throws -> String {
        let value = try require(key)
        guard let string = value.string else { throw RAGError(.corruptFile, "\(path): metadata \"\(key)\" should be a string, found \(value)") }
        return string
    }
}

/// Reads little-endian values at a moving position, failing with the offset and what it was reading.
struct Reader {
    let base: UnsafeRawPointer
    let size: Int
    let path: String
    var position = 0

    mutating func take(_ count: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawPointer {
        guard count >= 0, position <= size - count else {
            throw RAGError(.corruptFile, "\(path): truncated: reading \(what()) needs \(count) bytes at offset \(position), the file has \(size)")
        }
        defer { position += count }
        return base + position
    }

    mutating func u8(_ what: @autoclosure () -> String) throws -> UInt8 { try take(1, what()).load(as: UInt8.self) }
    mutating func u16(_ what: @autoclosure () -> String) throws -> UInt16 { UInt16(littleEndian: try take(2, what()).loadUnaligned(as: UInt16.self)) }
    mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 { UInt32(littleEndian: try take(4, what()).loadUnaligned(as: UInt32.self)) }
    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 { UInt64(littleEndian: try take(8, what()).loadUnaligned(as: UInt64.self)) }

    static let maxArrayElements: UInt64 = 1 << 22

    /// A u64 count that cannot exceed `limit` or what the bytes left can hold (each item takes
    /// at least `eachTaking` bytes).
    mutating func count(_ what: String, limit: UInt64, eachTaking minimum: Int = 1) throws -> Int {
        let at = position
        let n = try u64(what)
        guard n <= limit, n <= UInt64((size - position) / max(1, minimum)) else {
            throw RAGError(.corruptFile, "\(path): \(what) at offset \(at) is \(n), more than the file can hold")
        }
        return Int(n)
    }

    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let at = position
        let length = try u64("the length of \(what())")
        guard length <= UInt64(size - position) else {
            throw RAGError(.corruptFile, "\(path): truncated: \(what()) at offset \(at) claims \(length) bytes, \(size - position) remain")
        }
        let bytes = try take(Int(length), what())
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: Int(length)), as: UTF8.self)
    }

    mutating func value(for key: String) throws -> GGUFValue {
        let at = position
        let raw = try u32("the type of \"\(key)\"")
        guard let kind = GGUFValue.Kind(rawValue: raw) else {
            throw RAGError(.corruptFile, "\(path): metadata \"\(key)\" has unknown value type \(raw) at offset \(at)")
        }
        return try value(kind, key: key, depth: 0)
    }

    mutating func value(_ kind: GGUFValue.Kind, key: String, depth: Int) throws -> GGUFValue {
        switch kind {
        case .uint8: return .uint(UInt64(try u8(key)))
        case .int8: return .int(Int64(Int8(bitPattern: try u8(key))))
        case .uint16: return .uint(UInt64(try u16(key)))
        case .int16: return .int(Int64(Int16(bitPattern: try u16(key))))
        case .uint32: return .uint(UInt64(try u32(key)))
        case .int32: return .int(Int64(Int32(bitPattern: try u32(key))))
        case .uint64: return .uint(try u64(key))
        case .int64: return .int(Int64(bitPattern: try u64(key)))
        case .float32: return .float(Double(Float(bitPattern: try u32(key))))
        case .float64: return .float(Double(bitPattern: try u64(key)))
        case .bool:
            let at = position
            let b = try u8(key)
            guard b <= 1 else { throw RAGError(.corruptFile, "\(path): metadata \"\(key)\" is a bool of value \(b) at offset \(at)") }
            return .bool(b == 1)
        case .string: return .string(try string("the value of \"\(key)\""))
        case .array:
            guard depth < 4 else { throw RAGError(.corruptFile, "\(path): metadata \"\(key)\" nests arrays too deeply") }
            let at = position
            let raw = try u32("the element type of \"\(key)\"")
            guard let element = GGUFValue.Kind(rawValue: raw) else {
                throw RAGError(.corruptFile, "\(path): metadata \"\(key)\" is an array of unknown type \(raw) at offset \(at)")
            }
            // Each element takes at least its smallest encoding in the file, and no model's
            // array (a vocabulary, its merges) comes near 4M elements: a crafted count cannot
            // make the reader allocate many times the file.
            let n = try count("the length of \"\(key)\"", limit: Self.maxArrayElements, eachTaking: element.minimumBytes)
            var items: [GGUFValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try value(element, key: key, depth: depth + 1)) }
            return .array(items)
        }
    }
}
