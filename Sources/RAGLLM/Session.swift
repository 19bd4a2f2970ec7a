internal import Foundation
internal import RAGCore
internal import RAGKernels

/// One conversation with a model: the KV cache (f16 as llama.cpp keeps it by default, or Q8_0)
/// and the scratch buffers of the forward pass. Not thread-safe: one evaluation at a time (it
/// uses `threads` cores inside).
///
/// The arithmetic follows ggml's so outputs match llama.cpp's: activations quantized per block
/// before every matrix product, RMS in double, RoPE angles by repeated multiplication, queries
/// rounded to f16 against the f16 cache; with standard attention the probabilities too, as
/// llama.cpp without flash attention.
public final class Session: @unchecked Sendable {
    public let model: LanguageModel
    public let contextLength: Int
    public let batchSize: Int
    public let threads: Int
    /// The threads every product and attention of this session is split over.
    let pool: WorkerPool
    /// Query rows of one head per pass of the attention kernels: each cached key and value is
    /// converted once for all of them, and their scores stay in cache.
    static let attentionRows = 8
    /// Weight rows per cache tile when more than eight tokens share a pass (whole Q4_K tiles).
    static let tileRows = QuantDot.tileRows
    /// Tokens in the cache (the position of the next token).
    public private(set) var position = 0
    /// The tokens evaluated so far.
    public private(set) var history: [Int32] = []

    /// How the KV cache stores keys and values.
    public let kvType: KVCacheType
    /// How attention reads the cache.
    public let attention: Attention
    /// Blocks left out of decode steps (layer skipping, measured by `rag bench techniques`):
    /// their attention and feed-forward are not computed for a pass of next tokens only.
    public var skippedLayersAtDecode: Set<Int> = []

    /// Tiled (the flash-attention recurrence: blocks of positions, online softmax; memory
    /// O(block), the faster at every length measured) or standard (every score of a row kept,
    /// then softmax, probabilities rounded to f16 against the values: ggml's arithmetic without
    /// flash attention, which the reference logits were made with; f16 caches only).
    public enum Attention: String, CaseIterable, Sendable { case tiled, standard }

    private let d: Int, kvWidth: Int, headDim: Int, ff: Int
    /// Bytes of one position's keys (or values) in one layer, and of one layer's cache.
    private let rowBytes: Int, layerBytes: Int
    private let keys: UnsafeMutableRawPointer
    private let values: UnsafeMutableRawPointer
    private let x: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>
    private let q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>
    /// Each row's attention output (the heads side by side), the input of the output projection.
    private let attended: UnsafeMutablePointer<Float>
    private let gate: UnsafeMutablePointer<Float>, up: UnsafeMutablePointer<Float>
    private let scores: UnsafeMutablePointer<Float>
    /// Each thread's query rows, their visible counts and the tiled kernel's blocks.
    private let tileWork: UnsafeMutablePointer<Float>
    /// One activation buffer per format and width, with the input it was last quantized from.
    private var activations: [ActivationKey: (buffer: QuantizedActivations, input: Int)] = [:]
    /// Counts the inputs of products (a product with `sameInput` keeps the count).
    private var inputGeneration = 0
    public private(set) var logits: [Float]
    /// The logits of every row of the last `evaluate(_:everyRow: true)`, row after row.
    private var allLogits: [Float] = []
    private var logitRowCount = 0
    /// The logits a batched pass computes, before they are copied into their sessions.
    private var batchLogits: [Float] = []

    public init(
        model: LanguageModel, contextLength: Int? = nil, batchSize: Int = 512, threads: Int? = nil, kvType: KVCacheType = .f16,
        attention: Attention = .tiled
    ) {
        let c = model.config
        precondition(kvType == .f16 || c.headDimension % 32 == 0 && attention == .tiled, "Programmer error: a Q8_0 cache needs tiled attention and heads of whole blocks")
        self.model = model
        self.kvType = kvType
        // The tiled kernel takes heads of whole 32-value blocks (every model here); others stay standard.
        self.attention = c.headDimension % 32 == 0 ? attention : .standard
        self.contextLength = min(contextLength ?? min(c.contextLength, 4096), c.contextLength)
        self.batchSize = batchSize
        self.threads = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        d = c.embeddingLength
        headDim = c.headDimension
        kvWidth = c.headCountKV * headDim
        ff = c.feedForwardLength
        rowBytes = kvType.bytes(kvWidth)
        layerBytes = self.contextLength * rowBytes
        keys = .allocate(byteCount: c.blockCount * layerBytes, alignment: 64)
        values = .allocate(byteCount: c.blockCount * layerBytes, alignment: 64)
        x = .allocate(capacity: batchSize * d)
        h = .allocate(capacity: batchSize * d)
        q = .allocate(capacity: batchSize * d)
        k = .allocate(capacity: batchSize * kvWidth)
        v = .allocate(capacity: batchSize * kvWidth)
        attended = .allocate(capacity: batchSize * d)
        gate = .allocate(capacity: batchSize * ff)
        up = .allocate(capacity: batchSize * ff)
        scores = .allocate(capacity: self.attention == .standard ? self.threads * Self.attentionRows * self.contextLength : 0)
        tileWork = .allocate(capacity: self.threads * Self.tileWorkspace(c))
        pool = WorkerPool(threads: self.threads)
        logits = [Float](repeating: 0, count: c.vocabSize)
    }

    deinit {
        pool.shutdown()
        for p in [x, h, q, k, v, attended, gate, up, scores, tileWork] { p.deallocate() }
        keys.deallocate()
        values.deallocate()
    }

    /// Bytes of the KV cache of a session of `contextLength` tokens (keys and values, every layer).
    public static func cacheBytes(model: LanguageModel, contextLength: Int, kvType: KVCacheType) -> Int {
        let c = model.config
        return 2 * c.blockCount * contextLength * kvType.bytes(c.headCountKV * c.headDimension)
    }

    /// Jobs handed to the worker threads so far (each one barrier).
    public var synchronisations: Int { pool.jobs }

    /// The mean wall time of one empty job on the worker threads, in seconds: what one barrier
    /// costs when the workers are awake.
    public func barrierSeconds(iterations: Int = 20_000) -> Double {
        pool.run { _ in }
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<iterations { pool.run { _ in } }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(iterations)
    }

    /// Parks the worker threads now rather than letting them spin for the next token (another
    /// model is about to run on the same cores).
    public func rest() { pool.rest() }

    /// Forgets everything after the first `count` tokens (0: start over).
    public func truncate(to count: Int) {
        position = min(position, count)
        history.removeLast(history.count - position)
    }

    /// A copy of the KV cache of the first `count` tokens of the history.
    public func snapshot(count: Int) -> KVSnapshot {
        let n = min(count, position), layers = model.config.blockCount
        var keyCopy = [UInt8](repeating: 0, count: layers * n * rowBytes)
        var valueCopy = keyCopy
        keyCopy.withUnsafeMutableBytes { kc in
            valueCopy.withUnsafeMutableBytes { vc in
                for layer in 0..<layers {
                    let from = layer * layerBytes, to = layer * n * rowBytes
                    (kc.baseAddress! + to).copyMemory(from: keys + from, byteCount: n * rowBytes)
                    (vc.baseAddress! + to).copyMemory(from: values + from, byteCount: n * rowBytes)
                }
            }
        }
        return KVSnapshot(tokens: Array(history[..<n]), kvType: kvType, keys: keyCopy, values: valueCopy)
    }

    /// Replaces the history and its KV cache with a snapshot's (the logits are not restored:
    /// evaluate at least one more token before sampling).
    public func restore(_ snapshot: KVSnapshot) {
        let n = snapshot.tokens.count, layers = model.config.blockCount
        precondition(
            n <= contextLength && snapshot.kvType == kvType && snapshot.keys.count == layers * n * rowBytes, "a snapshot of another model, context or cache type")
        snapshot.keys.withUnsafeBytes { kc in
            snapshot.values.withUnsafeBytes { vc in
                for layer in 0..<layers {
                    let to = layer * layerBytes, from = layer * n * rowBytes
                    (keys + to).copyMemory(from: kc.baseAddress! + from, byteCount: n * rowBytes)
                    (values + to).copyMemory(from: vc.baseAddress! + from, byteCount: n * rowBytes)
                }
            }
        }
        history = snapshot.tokens
        position = n
    }

    /// Runs `tokens` through the model after the cached ones, in batches; afterwards `logits`
    /// holds the next-token logits after the last of them, and with `everyRow` (at most
    /// `batchSize` tokens) `rowLogits(_:)` those after each of them — what verifying draft tokens
    /// in one pass needs.
    public func evaluate(_ tokens: [Int32], everyRow: Bool = false, cancelled: () -> Bool = { false }) throws {
        guard !tokens.isEmpty else { return }
        guard position + tokens.count <= contextLength else {
            throw RAGError(.invalidInput, "\(position + tokens.count) tokens do not fit the context of \(contextLength) tokens (\(position) cached, \(tokens.count) new); shorten the prompt or raise the context size")
        }
        try checkVocabulary(tokens)
        precondition(!everyRow || tokens.count <= batchSize, "Programmer error: logits of every row for more than one batch")
        var start = 0
        while start < tokens.count {
            if cancelled() { throw CancellationError() }
            let end = min(tokens.count, start + batchSize)
            forward(Array(tokens[start..<end]), logits: end < tokens.count ? .none : everyRow ? .everyRow : .last)
            start = end
        }
    }

    /// One decoding step of several sequences together (continuous batching): `tokens[i]`
    /// follows the cached tokens of `sessions[i]`, and afterwards `sessions[i].logits` holds its
    /// next-token logits — bit for bit what its own `evaluate([tokens[i]])` gives. See
    /// `evaluate(_ batch:)`.
    public func decode(_ sessions: [Session], tokens: [Int32]) throws {
        precondition(sessions.count == tokens.count, "Programmer error: \(sessions.count) sessions, \(tokens.count) tokens")
        try evaluate(zip(sessions, tokens).map { BatchItem($0, [$1]) })
    }

    /// Which next-token logits a pass computes for a sequence's tokens.
    public enum LogitRows: Sendable { case none, last, everyRow }

    /// One sequence's share of a batched pass: tokens after its cached ones, and the logits
    /// wanted after them.
    public struct BatchItem {
        public let session: Session
        public let tokens: [Int32]
        public let logits: LogitRows
        public init(_ session: Session, _ tokens: [Int32], logits: LogitRows = .last) {
            self.session = session
            self.tokens = tokens
            self.logits = logits
        }
    }

    /// One forward pass over several sequences' tokens (continuous batching: one sequence's
    /// next token, another's draft to verify, a third's chunk of prompt): the weights are read
    /// once for all the rows; each row's position, RoPE, KV cache and attention are its own
    /// sequence's. Afterwards each session's `logits` (and with `.everyRow` its `rowLogits`)
    /// are bit for bit what its own `evaluate` of the same tokens gives. It runs on this
    /// session's threads and scratch buffers (this session may be one of the sequences, or
    /// none), so no other evaluation may use them meanwhile; the others' buffers and threads
    /// are not touched. A sequence whose tokens do not fit its context, or a token outside the
    /// vocabulary, is a clear error before anything moves.
    public func evaluate(_ batch: [BatchItem]) throws {
        let batch = batch.filter { !$0.tokens.isEmpty }
        guard !batch.isEmpty else { return }
        let rows = batch.reduce(0) { $0 + $1.tokens.count }
        precondition(rows <= batchSize, "Programmer error: \(rows) rows in a batch of \(batchSize)")
        precondition(Set(batch.map { ObjectIdentifier($0.session) }).count == batch.count, "Programmer error: a session twice in one pass")
        for item in batch {
            let session = item.session
            precondition(
                session.model === model && session.contextLength == contextLength && session.kvType == kvType && session.attention == attention,
                "Programmer error: a session of another model, context, cache type or attention")
            guard session.position + item.tokens.count <= contextLength else {
                throw RAGError(.invalidInput, "a sequence of \(session.position) tokens cannot take \(item.tokens.count) more within the context of \(contextLength) tokens")
            }
            try checkVocabulary(item.tokens)
        }
        forward(batch.flatMap(\.tokens), logits: .none, batch: batch)
    }

    /// Refuses a token id the model has no embedding for.
    private func checkVocabulary(_ tokens: [Int32]) throws {
        for t in tokens where t < 0 || Int(t) >= model.config.vocabSize {
            throw RAGError(.invalidInput, "token id \(t) is outside the vocabulary (0..<\(model.config.vocabSize))")
        }
    }

    /// The next-token logits after token `row` of the last `evaluate(_:everyRow: true)`.
    public func rowLogits(_ row: Int) -> [Float] {
        precondition(row < logitRowCount, "Programmer error: row \(row) of \(logitRowCount)")
        let vocab = model.config.vocabSize
        return Array(allLogits[row * vocab..<(row + 1) * vocab])
    }

    // MARK: - The forward pass

    /// The pass over `tokens`: this session's next tokens, or with `batch` the items' tokens
    /// one after the other (each row at its sequence's next position, into its cache).
    private func forward(_ tokens: [Int32], logits wanted: LogitRows, batch: [BatchItem]? = nil) {
        let n = tokens.count, c = model.config
        // Each row's sequence (this session's own rows when there is no batch).
        let sequences = batch.map { batch in batch.flatMap { item in Array(repeating: item.session, count: item.tokens.count) } } ?? [self]
        let positions = batch.map { batch in batch.flatMap { $0.session.position..<$0.session.position + $0.tokens.count } } ?? Array(position..<position + n)
        // A pass of next tokens only (no prompt, no draft) is a decode step: layers may be skipped.
        let decoding = batch.map { $0.allSatisfy { $0.tokens.count == 1 } } ?? (n == 1)
        for (t, token) in tokens.enumerated() { model.embedding.decodeRow(Int(token), into: x + t * d) }
        for (index, layer) in model.layers.enumerated() {
            // A skipped layer still puts its keys and values in the cache, so a later full pass
            // attends to every position; its attention and feed-forward are left out.
            let skipped = decoding && skippedLayersAtDecode.contains(index)
            rmsNorm(x, layer.attentionNorm, rows: n, into: h)
            if !skipped { matmul(layer.query, h, rows: n, into: q, bias: layer.queryBias) }
            matmul(layer.key, h, rows: n, into: k, bias: layer.keyBias, sameInput: !skipped)
            matmul(layer.value, h, rows: n, into: v, bias: layer.valueBias, sameInput: true)
            if !skipped { rope(q, rows: n, heads: c.headCount, positions: positions) }
            rope(k, rows: n, heads: c.headCountKV, positions: positions)
            let cacheOffset = index * layerBytes
            for t in 0..<n {
                let owner = sequences[batch == nil ? 0 : t]
                store(row: t, into: owner, at: cacheOffset + positions[t] * rowBytes)
            }
            guard !skipped else { continue }
            let rowSequences = batch == nil || batch!.count == 1 ? [sequences[0]] : sequences
            switch attention {
            case .standard: attend(rows: n, cacheOffset: cacheOffset, positions: positions, sequences: rowSequences)
            case .tiled: attendTiled(rows: n, cacheOffset: cacheOffset, positions: positions, sequences: rowSequences)
            }
            matmul(layer.attentionOutput, attended, rows: n, into: h)
            for i in 0..<n * d { x[i] += h[i] }
            rmsNorm(x, layer.feedForwardNorm, rows: n, into: h)
            matmul(layer.gate, h, rows: n, into: gate)
            matmul(layer.up, h, rows: n, into: up, sameInput: true)
            swiGLU(count: n * ff)
            matmul(layer.down, gate, rows: n, into: h)
            for i in 0..<n * d { x[i] += h[i] }
        }
        if let batch {
            finish(batch)
            return
        }
        position += n
        history += tokens
        switch wanted {
        case .none:
            break
        case .last:
            rmsNorm(x + (n - 1) * d, model.outputNorm, rows: 1, into: h)
            logits.withUnsafeMutableBufferPointer { out in matmul(model.output, h, rows: 1, into: out.baseAddress!) }
            logitRowCount = 0
        case .everyRow:
            logitsOfEveryRow(n)
            copyLogits(row: n - 1, to: self)
            logitRowCount = n
        }
    }

    /// The next-token logits after each of the pass's `n` rows, into `allLogits`, row after row.
    private func logitsOfEveryRow(_ n: Int) {
        let vocab = model.config.vocabSize
        if allLogits.count < n * vocab { allLogits = [Float](repeating: 0, count: n * vocab) }
        rmsNorm(x, model.outputNorm, rows: n, into: h)
        allLogits.withUnsafeMutableBufferPointer { out in matmul(model.output, h, rows: n, into: out.baseAddress!) }
    }

    /// Row `row` of `allLogits` as `session`'s logits.
    private func copyLogits(row: Int, to session: Session) {
        let vocab = model.config.vocabSize
        session.logits.withUnsafeMutableBufferPointer { last in
            allLogits.withUnsafeBufferPointer { (last.baseAddress!).update(from: $0.baseAddress! + row * vocab, count: vocab) }
        }
    }

    /// After a batched pass: each sequence's position and history moved on, and the logits it
    /// wanted computed (only those rows: the output layer is the largest product) and copied
    /// into it.
    private func finish(_ batch: [BatchItem]) {
        let vocab = model.config.vocabSize
        // The rows whose logits are wanted, gathered (normalized) at the start of `h`.
        var wanted: [Int] = [], first = 0
        for item in batch {
            let count = item.tokens.count
            switch item.logits {
            case .none: break
            case .last: wanted.append(first + count - 1)
            case .everyRow: wanted += first..<first + count
            }
            first += count
        }
        for (j, row) in wanted.enumerated() { rmsNorm(x + row * d, model.outputNorm, rows: 1, into: h + j * d) }
        if batchLogits.count < wanted.count * vocab { batchLogits = [Float](repeating: 0, count: wanted.count * vocab) }
        if !wanted.isEmpty {
            batchLogits.withUnsafeMutableBufferPointer { out in matmul(model.output, h, rows: wanted.count, into: out.baseAddress!) }
        }
        var j = 0
        batchLogits.withUnsafeBufferPointer { all in
            for item in batch {
                let session = item.session, count = item.tokens.count
                session.position += count
                session.history += item.tokens
                session.logitRowCount = 0
                let rowsOfItem = item.logits == .none ? 0 : item.logits == .last ? 1 : count
                guard rowsOfItem > 0 else { continue }
                if item.logits == .everyRow {
                    if session.allLogits.count < count * vocab { session.allLogits = [Float](repeating: 0, count: count * vocab) }
                    session.allLogits.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: all.baseAddress! + j * vocab, count: count * vocab) }
                    session.logitRowCount = count
                }
                session.logits.withUnsafeMutableBufferPointer {
                    $0.baseAddress!.update(from: all.baseAddress! + (j + rowsOfItem - 1) * vocab, count: vocab)
                }
                j += rowsOfItem
            }
        }
    }

    /// gate ← SiLU(gate) · up over the first `count` values, split over the threads.
    private func swiGLU(count: Int) {
        let (g, u) = (UnsafeTransfer(gate), UnsafeTransfer(up))
        let parts = count >= 4096 ? threads : 1, size = (count + parts - 1) / parts
        pool.forEach(parts) { part, _ in
            for i in part * size..<min(count, (part + 1) * size) {
                let x = g.value[i]
                g.value[i] = x / (1 + expf(-x)) * u.value[i]
            }
        }
    }

    /// y = x / sqrt(mean(x²) + ε) · weight, per row (the mean summed in double, as ggml does).
    private func rmsNorm(_ x: UnsafeMutablePointer<Float>, _ weight: [Float], rows: Int, into y: UnsafeMutablePointer<Float>) {
        let epsilon = Float(model.config.rmsEpsilon)
        weight.withUnsafeBufferPointer { w in
            for r in 0..<rows {
                let row = x + r * d, out = y + r * d
                var sum = 0.0
                for i in 0..<d { sum += Double(row[i] * row[i]) }
                let scale = 1 / (Float(sum / Double(d)) + epsilon).squareRoot()
                for i in 0..<d { out[i] = row[i] * scale * w[i] }
            }
        }
    }

    /// `input` quantized as `format` wants, in the session's buffer for that format and width
    /// (made once); quantized again only for a new input.
    private func quantized(_ input: UnsafeMutablePointer<Float>, rows n: Int, format: ActivationFormat, width: Int) -> QuantizedActivations {
        let key = ActivationKey(format: format, width: width)
        let entry = activations[key] ?? (QuantizedActivations(format: format, width: width, capacity: batchSize), -1)
        if entry.input != inputGeneration {
            entry.buffer.quantize(input, rows: n, stride: width, pool: pool)
            activations[key] = (entry.buffer, inputGeneration)
        }
        return entry.buffer
    }

    /// out[r·rows + o] = W[o] · x[r] (+ bias), for `rows` input rows, over the threads: the
    /// integer dots of the stored blocks with quantized activations at every batch size (a
    /// prompt too: no f32 copy of a matrix, and the sums ggml makes), float matrices decoded a row
    /// at a time. `sameInput`: the input is the previous product's, unchanged since, so its
    /// activations quantized in this format then are used again.
    private func matmul(
        _ w: Matrix, _ input: UnsafeMutablePointer<Float>, rows n: Int, into out: UnsafeMutablePointer<Float>, bias: [Float]? = nil,
        sameInput: Bool = false
    ) {
        if !sameInput { inputGeneration &+= 1 }
        if let format = w.activationFormat {
            integerProduct(w, format, input, rows: n, into: out)
        } else {
            floatProduct(w, input, rows: n, into: out)
        }
        if let bias {
            let outputs = w.rows
            for r in 0..<n { for o in 0..<outputs { out[r * outputs + o] += bias[o] } }
        }
    }

    /// Each thread's contiguous run of weight rows (hardware prefetch follows it), whole Q4_K
    /// tiles: (size, count).
    private func rowChunks(_ outputs: Int) -> (size: Int, count: Int) {
        let tile = QuantDot.tileRows
        let size = ((outputs + threads - 1) / threads + tile - 1) / tile * tile
        return (size, (outputs + size - 1) / size)
    }

    /// Integer dots: the activations quantized as the weights' format wants, then tiles of weight
    /// rows small enough to stay in cache while every group of up to eight tokens passes over them.
    private func integerProduct(_ w: Matrix, _ format: ActivationFormat, _ input: UnsafeMutablePointer<Float>, rows n: Int, into out: UnsafeMutablePointer<Float>) {
        let outputs = w.rows, target = UnsafeTransfer(out), kernel = w.kernel
        let (chunk, chunks) = rowChunks(outputs)
        let a = quantized(input, rows: n, format: format, width: w.columns)
        pool.forEach(chunks) { c, _ in
            let lo = c * chunk, hi = min(outputs, lo + chunk)
            var tile = lo
            while tile < hi {
                let end = n <= QuantDot.maxRows ? hi : min(hi, tile + Self.tileRows)
                var first = 0
                while first < n {
                    let nx = min(QuantDot.maxRows, n - first)
                    kernel.dot(rows: tile..<end, a, first: first, nx: nx, into: target.value + first * outputs, ldo: outputs)
                    first += nx
                }
                tile = end
            }
        }
    }

    /// A float matrix (F32, F16, BF16) and a few rows: each weight row decoded once, dotted with
    /// every input row.
    private func floatProduct(_ w: Matrix, _ input: UnsafeMutablePointer<Float>, rows n: Int, into out: UnsafeMutablePointer<Float>) {
        let outputs = w.rows, columns = w.columns, target = UnsafeTransfer(out), source = UnsafeTransfer(input)
        let (chunk, chunks) = rowChunks(outputs)
        pool.forEach(chunks) { c, _ in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: columns) { row in
                let lo = c * chunk, hi = min(outputs, lo + chunk)
                for o in lo..<hi {
                    w.decodeRow(o, into: row.baseAddress!)
                    for r in 0..<n {
                        target.value[r * outputs + o] = Vector.dot(row.baseAddress!, source.value + r * columns, count: columns)
                    }
                }
            }
        }
    }

    /// Rotary position embedding in place: pairs (2i, 2i+1) for llama, (i, i + dim/2) for NeoX;
    /// angle pos·base^(−2i/dim), built by repeated multiplication in f32 like ggml's cache.
    private func rope(_ y: UnsafeMutablePointer<Float>, rows n: Int, heads: Int, positions: [Int]) {
        let c = model.config
        let half = headDim / 2
        let thetaScale = powf(Float(c.ropeFreqBase), -2 / Float(headDim))
        let width = heads * headDim
        withUnsafeTemporaryAllocation(of: Float.self, capacity: headDim) { table in
            for r in 0..<n {
                var theta = Float(positions[r])
                for i in 0..<half {
                    table[2 * i] = cosf(theta)
                    table[2 * i + 1] = sinf(theta)
                    theta *= thetaScale
                }
                for head in 0..<heads {
                    let p = y + r * width + head * headDim
                    for i in 0..<half {
                        let (a, b) = c.ropeLayout == .normal ? (2 * i, 2 * i + 1) : (i, i + half)
                        let cos = table[2 * i], sin = table[2 * i + 1]
                        let x0 = p[a], x1 = p[b]
                        p[a] = x0 * cos - x1 * sin
                        p[b] = x0 * sin + x1 * cos
                    }
                }
            }
        }
    }

    /// Standard attention: causal grouped-query attention of the `rows` new tokens over the cache (row t, at
    /// `positions[t]`, over `sequences[t]`'s, or all over `sequences[0]`'s when it is the only
    /// one). Queries are
    /// rounded to f16 and probabilities too before they meet the f16 values, as ggml does.
    /// HalfAttention's kernels on the f16 cache for a prompt as for one token: f16 products
    /// summed in f32 as ggml's, faster here than OpenBLAS over f32 copies of the head (measured on
    /// the 512-token prompt of the three models) and closer to llama.cpp's logits.
    private func attend(rows n: Int, cacheOffset: Int, positions: [Int], sequences: [Session]) {
        let c = model.config
        let heads = c.headCount, group = c.headCount / c.headCountKV
        let scale = 1 / Float(headDim).squareRoot()
        let (qs, out, sc) = (UnsafeTransfer(q), UnsafeTransfer(attended), UnsafeTransfer(scores))
        // Each row's cache (one for all rows of one session).
        let caches = sequences.map { sequence in
            (keys: UnsafeTransfer((sequence.keys + cacheOffset).assumingMemoryBound(to: Float16.self)),
             values: UnsafeTransfer((sequence.values + cacheOffset).assumingMemoryBound(to: Float16.self)))
        }
        let (headDim, kvWidth, d, context) = (headDim, kvWidth, d, contextLength)
        // The query rows of a pass share one KV head, whose cached keys and values are converted
        // once for all of them: one token's heads of a KV group (a few new tokens), or one head's
        // tokens with a row's later positions masked (a prompt) — whichever makes fewer passes.
        let kvHeads = c.headCountKV, most = Self.attentionRows
        let byToken = sequences.count > 1 || n * ((group + most - 1) / most) < group * ((n + most - 1) / most)
        pool.forEach(byToken ? n * kvHeads : heads) { item, thread in
            let s = sc.value + thread * most * context
            withUnsafeTemporaryAllocation(of: Float.self, capacity: most * headDim) { buffer in
                let query = buffer.baseAddress!
                /// `rows` query rows from `source` (`ldq` apart) against KV head `kvHead`, row r
                /// seeing the positions before `visible(r)`; the outputs to `target`, `ldo` apart.
                func pass(
                    cache: (keys: UnsafeTransfer<UnsafeMutablePointer<Float16>>, values: UnsafeTransfer<UnsafeMutablePointer<Float16>>),
                    kvHead: Int, rows: Int, source: UnsafePointer<Float>, ldq: Int, visible: (Int) -> Int, target: UnsafeMutablePointer<Float>, ldo: Int
                ) {
                    let (ks, vs) = (cache.keys, cache.values)
                    let count = visible(rows - 1)
                    for r in 0..<rows { (query + r * headDim).update(from: source + r * ldq, count: headDim) }
                    HalfAttention.roundToHalf(query, count: rows * headDim)
                    HalfAttention.scores(query, rows: rows, dim: headDim, keys: ks.value + kvHead * headDim, stride: kvWidth, count: count, into: s, lds: context)
                    for r in 0..<rows {
                        let row = s + r * context, seen = visible(r)
                        softmax(row, count: seen, scale: scale)
                        HalfAttention.roundToHalf(row, count: seen)
                        for t in seen..<count { row[t] = 0 }
                    }
                    HalfAttention.values(
                        s, rows: rows, ldp: context, values: vs.value + kvHead * headDim, stride: kvWidth, count: count, dim: headDim,
                        into: target, ldo: ldo)
                }
                if byToken {
                    let t = item / kvHeads, kvHead = item % kvHeads
                    var h = kvHead * group
                    while h < (kvHead + 1) * group {
                        let rows = min(most, (kvHead + 1) * group - h), at = t * d + h * headDim
                        pass(
                            cache: caches[sequences.count > 1 ? t : 0], kvHead: kvHead, rows: rows, source: qs.value + at, ldq: headDim,
                            visible: { _ in positions[t] + 1 }, target: out.value + at, ldo: headDim)
                        h += rows
                    }
                } else {
                    let head = item, kvHead = head / group
                    var first = 0
                    while first < n {
                        let rows = min(most, n - first), at = first * d + head * headDim
                        pass(cache: caches[0], kvHead: kvHead, rows: rows, source: qs.value + at, ldq: d, visible: { positions[first + $0] + 1 }, target: out.value + at, ldo: d)
                        first += rows
                    }
                }
            }
        }
    }
}

extension Session {
    /// Query tokens per pass of the tiled kernel: with the heads of their KV group, up to 64
    /// query rows share each block of keys and values it converts.
    static func tileTokens(_ c: ModelConfig) -> Int { max(1, min(16, 64 / (c.headCount / c.headCountKV))) }

    /// Floats one thread's tiled passes need: the query rows (the outputs overwrite them), their
    /// visible counts and the kernel's blocks.
    static func tileWorkspace(_ c: ModelConfig) -> Int {
        let rows = tileTokens(c) * (c.headCount / c.headCountKV)
        return rows * (c.headDimension + 1) + TiledAttention.workspace(rows: rows, dim: c.headDimension)
    }

    /// Row `t`'s new key and value into `owner`'s cache at byte `at` (f16, or Q8_0 blocks).
    func store(row t: Int, into owner: Session, at: Int) {
        let (key, value) = (k + t * kvWidth, v + t * kvWidth)
        switch kvType {
        case .f16:
            let (keys, values) = ((owner.keys + at).assumingMemoryBound(to: Float16.self), (owner.values + at).assumingMemoryBound(to: Float16.self))
            for i in 0..<kvWidth {
                keys[i] = Float16(key[i])
                values[i] = Float16(value[i])
            }
        case .q8_0:
            QuantBlocks.encodeQ8_0(key, count: kvWidth, into: owner.keys + at)
            QuantBlocks.encodeQ8_0(value, count: kvWidth, into: owner.values + at)
        }
    }

    /// Causal grouped-query attention as `attend`, by TiledAttention: each pass takes up to
    /// `tileTokens` consecutive rows of one sequence with all the query heads of one KV head,
    /// and reads that head's cache a block of positions at a time (online softmax). Queries
    /// meet an f16 cache rounded to f16, as in `attend`; probabilities stay f32.
    func attendTiled(rows n: Int, cacheOffset: Int, positions: [Int], sequences: [Session]) {
        let c = model.config
        let group = c.headCount / c.headCountKV, kvHeads = c.headCountKV
        let perPass = Self.tileTokens(c), workspace = Self.tileWorkspace(c)
        let scale = 1 / Float(headDim).squareRoot()
        let (headDim, d, rowBytes, storage) = (headDim, d, rowBytes, kvType.storage)
        let headBytes = storage.bytes(headDim)
        // Runs of consecutive rows of one sequence, at most `perPass` long, with its cache.
        var runs: [(first: Int, count: Int, keys: UnsafeTransfer<UnsafeRawPointer>, values: UnsafeTransfer<UnsafeRawPointer>)] = []
        var first = 0
        while first < n {
            let owner = sequences.count == 1 ? sequences[0] : sequences[first]
            var end = first + 1
            while end < n && end - first < perPass && (sequences.count == 1 || sequences[end] === owner) { end += 1 }
            runs.append((first, end - first, UnsafeTransfer(UnsafeRawPointer(owner.keys + cacheOffset)), UnsafeTransfer(UnsafeRawPointer(owner.values + cacheOffset))))
            first = end
        }
        let (qs, out, work) = (UnsafeTransfer(q), UnsafeTransfer(attended), UnsafeTransfer(tileWork))
        pool.forEach(runs.count * kvHeads) { item, thread in
            let run = runs[item / kvHeads], kvHead = item % kvHeads
            let rows = run.count * group
            let query = work.value + thread * workspace
            let visible = UnsafeMutableRawPointer(query + rows * headDim).bindMemory(to: Int32.self, capacity: rows)
            // Row i·group + g: token first + i, head kvHead·group + g (the heads of one token are
            // adjacent in q and in the output).
            for i in 0..<run.count {
                let at = (run.first + i) * d + kvHead * group * headDim
                (query + i * group * headDim).update(from: qs.value + at, count: group * headDim)
                for g in 0..<group { visible[i * group + g] = Int32(positions[run.first + i] + 1) }
            }
            if storage == .f16 { HalfAttention.roundToHalf(query, count: rows * headDim) }
            TiledAttention.attend(
                query, rows: rows, dim: headDim, visible: visible, storage: storage,
                keys: run.keys.value + kvHead * headBytes, values: run.values.value + kvHead * headBytes, rowBytes: rowBytes, scale: scale,
                into: query, ldo: headDim, work: query + rows * (headDim + 1))
            for i in 0..<run.count {
                (out.value + (run.first + i) * d + kvHead * group * headDim).update(from: query + i * group * headDim, count: group * headDim)
            }
        }
    }
}

/// Which activation buffer a product uses: one per format and width.
private struct ActivationKey: Hashable {
    let format: ActivationFormat
    let width: Int
}

/// softmax(scale·x) in place (max subtracted; the sum in double, as ggml's soft_max).
private func softmax(_ x: UnsafeMutablePointer<Float>, count: Int, scale: Float) {
    var maxValue = -Float.infinity
    for t in 0..<count {
        x[t] *= scale
        maxValue = max(maxValue, x[t])
    }
    var sum = 0.0
    for t in 0..<count {
        let e = expf(x[t] - maxValue)
        x[t] = e
        sum += Double(e)
    }
    let inverse = Float(1 / sum)
    for t in 0..<count { x[t] *= inverse }
}

/// The KV cache of a token sequence, copied out of a session (as it stores them, layer by layer).
public struct KVSnapshot: Sendable {
    public let tokens: [Int32]
    public let kvType: KVCacheType
    let keys: [UInt8]
    let values: [UInt8]
    public var bytes: Int { keys.count + values.count }
}
