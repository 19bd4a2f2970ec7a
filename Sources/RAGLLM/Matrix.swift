internal import Foundation
internal import RAGCore
internal import RAGKernels

/// A weight matrix in its stored (quantized) form, in place in the memory-mapped file: `rows`
/// rows of `columns` values, each row `rowBytes` bytes (ggml's ne0 = columns, ne1 = rows).
/// The integer dots read the blocks as stored, so a token reads exactly the file's bytes; where
/// the AVX-512 kernels run, a matrix of any integer format but Q6_K is read from a copy of the
/// same bytes interleaved sixteen rows to a tile at load (`QuantDot.tiles`), which shares each
/// block's work among them.
struct Matrix: @unchecked Sendable {
    let name: String
    /// The type in the file.
    let type: GGMLType
    let rows: Int
    let columns: Int
    let rowBytes: Int
    let data: UnsafeRawPointer
    /// The integer-dot format of the rows; nil for float matrices.
    let weights: QuantDot.Weights?
    /// Rows of our own (a requantized matrix), kept alive here; nil for rows in the mapped file.
    let storage: OwnedBytes?
    /// The rows as tiles, or nil.
    let tiles: OwnedBytes?

    init(_ file: GGUFFile, _ name: String, rows: Int? = nil, columns: Int) throws {
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
        self.rows = info.shape.count == 2 ? info.shape[1] : 1
        rowBytes = info.type.rowBytes(columns)!
        data = file.bytes(of: info).baseAddress!
        weights = QuantDot.Weights(rawValue: Int32(info.type.rawValue))
        storage = nil
        tiles = Self.tiles(type: type, data, rows: self.rows, columns: columns, rowBytes: rowBytes, mapped: true)
    }

    /// The rows packed as tiles (Q4_K and the 32-value formats), both cores packing, where the
    /// AVX-512 kernels run. The rows are not read again (a token embedding's rows are decoded
    /// from the tiles too): rows `mapped` from the file give their pages back as each slice of
    /// ~8 MiB is packed, so the copy neither doubles the resident size nor peaks above it while a
    /// large matrix packs.
    private static func tiles(type: GGMLType, _ data: UnsafeRawPointer, rows: Int, columns: Int, rowBytes: Int, mapped: Bool) -> OwnedBytes? {
        guard CPUFeatures.hasAVX512, let weights = QuantDot.Weights(rawValue: Int32(type.rawValue)), QuantDot.hasTiles(weights),
              rows % QuantDot.tileRows == 0 else { return nil }
        let tileBytes = QuantDot.tileRows * rowBytes, tiles = rows / QuantDot.tileRows
        let bytes = OwnedBytes(count: rows * rowBytes)
        let out = UnsafeTransfer(bytes.base), source = UnsafeTransfer(data)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var released = (Int(bitPattern: data) + page - 1) / page * page
        let slice = max(2, (8 << 20) / tileBytes)
        for first in stride(from: 0, to: tiles, by: slice) {
            let count = min(slice, tiles - first), parts = min(2, count)
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                let lo = first + count * part / parts, hi = first + count * (part + 1) / parts
                QuantDot.packTiles(weights, source.value + lo * tileBytes, rowBytes: rowBytes, rows: (hi - lo) * QuantDot.tileRows, columns: columns,
                                   into: out.value + lo * tileBytes)
            }
            let end = (Int(bitPattern: data) + (first + count) * tileBytes) / page * page
            if mapped, end > released {
                madvise(UnsafeMutableRawPointer(bitPattern: released), end - released, MADV_DONTNEED)
                released = end
            }
        }
        return bytes
    }

    /// The same matrix requantized to Q8_0 (each row decoded, then encoded by QuantBlocks), with
    /// the `pruning` fraction of each row's weights of least magnitude set to zero first
    /// (magnitude pruning); rows split over `threads`. Where there are tiles, its rows are kept
    /// beside them.
    func requantizedQ8_0(pruning: Double = 0, threads: Int) -> Matrix {
        let rowBytes = GGMLType.q8_0.rowBytes(columns)!
        let bytes = OwnedBytes(count: rows * rowBytes)
        let zeroed = Int((pruning * Double(columns)).rounded())
        let out = UnsafeTransfer(bytes.base)
        DispatchQueue.concurrentPerform(iterations: threads) { part in
            var row = [Float](repeating: 0, count: columns)
            var order = Array(0..<columns)
            for r in stride(from: part, to: rows, by: threads) {
                row.withUnsafeMutableBufferPointer { decodeRow(r, into: $0.baseAddress!) }
                if zeroed > 0 {
                    order.sort { abs(row[$0]) < abs(row[$1]) }
                    for i in order.prefix(zeroed) { row[i] = 0 }
                    for i in 0..<columns { order[i] = i }
                }
                QuantBlocks.encodeQ8_0(row, count: columns, into: out.value + r * rowBytes)
            }
        }
        return Matrix(name: name, type: .q8_0, rows: rows, columns: columns, rowBytes: rowBytes, data: UnsafeRawPointer(bytes.base), storage: bytes)
    }

    private init(name: String, type: GGMLType, rows: Int, columns: Int, rowBytes: Int, data: UnsafeRawPointer, storage: OwnedBytes) {
        self.name = name
        self.type = type
        self.rows = rows
        self.columns = columns
        self.rowBytes = rowBytes
        self.data = data
        weights = QuantDot.Weights(rawValue: Int32(type.rawValue))
        self.storage = storage
        tiles = Self.tiles(type: type, data, rows: rows, columns: columns, rowBytes: rowBytes, mapped: false)
    }

    /// The activation format this matrix's integer dot wants; nil for float matrices.
    var activationFormat: ActivationFormat? { weights?.activations }

    func row(_ r: Int) -> UnsafeRawPointer { data + r * rowBytes }

    /// Row `r` as floats (from the tiles where there are tiles: the rows' pages were given back).
    func decodeRow(_ r: Int, into y: UnsafeMutablePointer<Float>) {
        guard let tiles, let weights else { return type.dequantize(row(r), count: columns, into: y) }
        withUnsafeTemporaryAllocation(byteCount: rowBytes, alignment: 16) { bytes in
            QuantDot.tileRow(weights, tiles.base, columns: columns, row: r, into: bytes.baseAddress!)
            type.dequantize(UnsafeRawPointer(bytes.baseAddress!), count: columns, into: y)
        }
    }

    /// What the integer dots read, with no reference to count: the worker threads share one
    /// (copying a `Matrix` in each thread's share retains its name and buffers on both cores).
    var kernel: Kernel { Kernel(weights: weights, data: data, rowBytes: rowBytes, columns: columns, tiles: tiles.map { UnsafeRawPointer($0.base) }) }

    struct Kernel: @unchecked Sendable {
        let weights: QuantDot.Weights?
        let data: UnsafeRawPointer
        let rowBytes: Int
        let columns: Int
        let tiles: UnsafeRawPointer?

        /// out[r · ldo + o] = row o · x[first + r] for rows `range`, activation rows first ..< first + nx.
        @inline(__always)
        func dot(rows range: Range<Int>, _ x: QuantizedActivations, first: Int, nx: Int, into out: UnsafeMutablePointer<Float>, ldo: Int) {
            if let tiles {
                precondition(range.lowerBound % QuantDot.tileRows == 0 && range.count % QuantDot.tileRows == 0, "Programmer error: rows \(range) split a tile")
                QuantDot.tiles(weights!, tiles + range.lowerBound * rowBytes, count: range.count,
                               columns: columns, x, first: first, nx: nx, into: out + range.lowerBound, ldo: ldo)
            } else {
                QuantDot.rows(weights!, data + range.lowerBound * rowBytes, rowBytes: rowBytes, count: range.count, x, first: first, nx: nx, into: out + range.lowerBound, ldo: ldo)
            }
        }
    }
}

/// Bytes allocated for the lifetime of the matrices that point into them.
final class OwnedBytes: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    init(count: Int) { base = .allocate(byteCount: max(1, count), alignment: 64) }
    deinit { base.deallocate() }
}
