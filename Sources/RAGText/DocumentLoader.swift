public import Foundation
public import RAGCore
internal import Synchronization

/// A file read from disk: its bytes' hash decides whether it needs loading at all.
public struct SourceFile: Sendable {
    public var path: String
    public var format: DocumentFormat
    public var bytes: Data
    /// Hex SHA-256 of `bytes`.
    public var contentHash: String

    public init(path: String, format: DocumentFormat, bytes: Data) {
        self.path = path
        self.format = format
        self.bytes = bytes
        var hasher = SHA256()
        bytes.withUnsafeBytes { hasher.update($0) }
        self.contentHash = hasher.finalizeHex()
    }
}

/// Turns files into documents: one per file, or one per line of a BEIR-style JSONL file.
public struct DocumentLoader: Sendable {
    /// The `pdftotext` executable (poppler-utils): a name looked up on PATH, or a path.
    public var pdftotext: String
    /// Seconds `pdftotext` may run on one file before it is killed.
    public var pdfTimeout: Double
    /// Most bytes of text taken from one PDF (a compressed PDF can expand to gigabytes).
    public var maxPDFTextBytes: Int

    public init(pdftotext: String = "pdftotext", pdfTimeout: Double = 120, maxPDFTextBytes: Int = 64 << 20) {
        self.pdftotext = pdftotext
        self.pdfTimeout = pdfTimeout
        self.maxPDFTextBytes = maxPDFTextBytes
    }

    /// Reads a file's bytes.
    public func read(path: String, format: DocumentFormat) throws -> SourceFile {
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
            return SourceFile(path: path, format: format, bytes: data)
        } catch {
            let reason = (error as NSError).userInfo[NSUnderlyingErrorKey].map { "\($0)" } ?? error.localizedDescription
            throw RAGError(.io, "\(path): cannot read the file (\(Self.describe(error, fallback: reason))); check that it exists and is readable", underlying: error)
        }
    }

    static func describe(_ error: any Error, fallback: String) -> String {
        let ns = error as NSError
        if ns.domain == NSCocoaErrorDomain {
            switch ns.code {
            case NSFileReadNoPermissionError: return "permission denied"
            case NSFileReadNoSuchFileError: return "no such file"
            default: break
            }
        }
        return fallback
    }

    /// The documents in `file`.
    public func load(_ file: SourceFile) throws -> [LoadedDocument] {
        if file.format != .pdf, TextDecoding.looksBinary(file.bytes) {
            throw RAGError(.unsupported, "\(file.path): binary file (contains NUL bytes)")
        }
        switch file.format {
        case .jsonl:
            return try loadJSONL(file)
        case .pdf:
            let text = try extractPDFText(path: file.path)
            return [document(file, title: nil, sections: PDFText.sections(text), warnings: [])]
        case .text, .markdown, .html:
            let (text, invalid) = TextDecoding.decodeUTF8(file.bytes)
            let warnings = invalid ? ["\(file.path): invalid UTF-8 replaced with U+FFFD"] : []
            let (title, sections): (String?, [Section])
            var tags: [String: [String]] = [:]
            switch file.format {
            case .markdown: (title, sections, tags) = MarkdownParser.parse(text)
            case .html: (title, sections) = HTMLParser.parse(text)
            default: (title, sections) = PlainText.parse(text)
            }
            var document = document(file, title: title, sections: sections, warnings: warnings)
            document.tags = tags
            return [document]
        }
    }

    private func document(_ file: SourceFile, title: String?, sections: [Section], warnings: [String]) -> LoadedDocument {
        LoadedDocument(
            path: file.path,
            title: title ?? sections.first.flatMap { PlainText.firstLineTitle($0.text) },
            format: file.format, contentHash: file.contentHash, size: Int64(file.bytes.count),
            sections: sections, warnings: warnings)
    }

    // MARK: - JSONL (BEIR corpus format)

    private struct Record: Decodable {
        var id: String
        var title: String?
        var text: String?

        enum CodingKeys: String, CodingKey { case id = "_id", title, text }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            if let s = try? c.decode(String.self, forKey: .id) {
                id = s
            } else {
                id = String(try c.decode(Int64.self, forKey: .id))
            }
            title = try c.decodeIfPresent(String.self, forKey: .title)
            text = try c.decodeIfPresent(String.self, forKey: .text)
        }
    }

    /// One document per line: `{"_id": …, "title": …, "text": …}`, path `FILE#<_id>`. A bad line
    /// is skipped with a warning naming its line number.
    private func loadJSONL(_ file: SourceFile) throws -> [LoadedDocument] {
        var documents: [LoadedDocument] = []
        var warnings: [String] = []
        var seen = Set<String>()
        let decoder = JSONDecoder()
        var lineNumber = 0
        let bytes = file.bytes
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.endIndex
            lineNumber += 1
            let line = bytes[start..<end]
            start = end < bytes.endIndex ? bytes.index(after: end) : end
            guard line.contains(where: { $0 != 0x20 && $0 != 0x0D && $0 != 0x09 }) else { continue }
            let record: Record
            do {
                record = try decoder.decode(Record.self, from: line)
            } catch {
                warnings.append("\(file.path):\(lineNumber): not a JSON object with \"_id\" and \"text\"; line skipped")
                continue
            }
            guard seen.insert(record.id).inserted else {
                warnings.append("\(file.path):\(lineNumber): duplicate _id \"\(record.id)\"; line skipped")
                continue
            }
            let title = record.title.map { String($0.trimmingSpaces()) }.flatMap { $0.isEmpty ? nil : $0 }
            let text = record.text ?? ""
            documents.append(LoadedDocument(
                path: "\(file.path)#\(record.id)", title: title, format: .jsonl,
                contentHash: SHA256.hex(line), size: Int64(line.count),
                sections: text.isEmpty ? [] : [Section(headings: title.map { [$0] } ?? [], text: text)]))
        }
        if let first = documents.indices.first { documents[first].warnings = warnings } else if !warnings.isEmpty {
            throw RAGError(.invalidInput, "\(file.path): no valid JSONL record (\(warnings.count) bad lines; first: \(warnings[0]))")
        }
        return documents
    }

    // MARK: - PDF

    /// The text of a PDF through poppler's `pdftotext` (pages separated by form feeds).
    public func extractPDFText(path: String) throws -> String {
        guard let executable = Self.findExecutable(pdftotext) else {
            throw RAGError(.unsupported, "\(path): reading PDF needs `pdftotext` from poppler-utils, which is not installed; run `make setup` (or `apt-get install poppler-utils`)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-enc", "UTF-8", "-q", path, "-"]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw RAGError(.io, "\(path): could not run \(executable): \(error)", underlying: error)
        }
        // Both pipes are drained before waiting, so a large output cannot block the child; the
        // child is killed past the time limit or the output limit.
        let errorData = LockedData()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { errorData.set(errors.fileHandleForReading.readDataToEndOfFile()) }
        let timedOut = Atomic<Bool>(false)
        // SIGKILL, not terminate(): a child spawned from a worker thread may inherit a mask that
        // holds SIGTERM back.
        let pid = process.processIdentifier
        let deadline = DispatchWorkItem {
            timedOut.store(true, ordering: .releasing)
            kill(pid, SIGKILL)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + pdfTimeout, execute: deadline)
        var data = Data()
        let reader = output.fileHandleForReading
        while true {
            let piece = reader.availableData
            if piece.isEmpty { break }
            data.append(piece)
            if data.count > maxPDFTextBytes {
                kill(pid, SIGKILL)
                break
            }
        }
        try? reader.close()
        process.waitUntilExit()
        deadline.cancel()
        group.wait()
        if data.count > maxPDFTextBytes {
            throw RAGError(.invalidInput, "\(path): pdftotext gave more than \(maxPDFTextBytes >> 20) MiB of text; the PDF is skipped (split it, or extract its text yourself)")
        }
        if timedOut.load(ordering: .acquiring) {
            throw RAGError(.invalidInput, "\(path): pdftotext ran longer than \(Int(pdfTimeout)) s and was stopped; the PDF is skipped (is it damaged or unusually complex?)")
        }
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errorData.get(), as: UTF8.self).trimmingSpaces()
            throw RAGError(.corruptFile, "\(path): pdftotext failed (exit \(process.terminationStatus))\(message.isEmpty ? "" : ": \(message)"); is it a valid PDF?")
        }
        return TextDecoding.decodeUTF8(data).text
    }

    static func findExecutable(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

/// A `Data` handed between threads.
private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}

/// Plain text: paragraphs separated by blank lines, hard-wrapped lines joined.
enum PlainText {
    static func parse(_ text: String) -> (title: String?, sections: [Section]) {
        let normalized = TextDecoding.normalizeNewlines(text)
        let body = TextDecoding.unwrapParagraphs(normalized)
        let firstLine = normalized.drop(while: \.isWhitespace).prefix(while: { $0 != "\n" })
        return (firstLineTitle(String(firstLine)), body.isEmpty ? [] : [Section(text: body)])
    }

    /// The first line of `text` as a title when it is short enough to be one.
    static func firstLineTitle(_ text: String) -> String? {
        let line = text.prefix(while: { $0 != "\n" }).trimmingSpaces()
        guard !line.isEmpty, line.count <= 120 else { return nil }
        if let stop = line.firstIndex(where: { ".!?".contains($0) }), line.index(after: stop) < line.endIndex {
            return String(line[...stop])
        }
        return String(line)
    }
}

/// pdftotext output: one section per page, headed "page N", hard-wrapped lines joined.
enum PDFText {
    static func sections(_ text: String) -> [Section] {
        var sections: [Section] = []
        for (number, page) in text.split(separator: "\u{0C}", omittingEmptySubsequences: false).enumerated() {
            let body = TextDecoding.unwrapParagraphs(String(page))
            if !body.isEmpty { sections.append(Section(headings: ["page \(number + 1)"], text: body)) }
        }
        return sections
    }
}

// MARK: - Large plain-text files, in blocks

extension DocumentLoader {
    /// SHA-256 of a file, read in 1 MB pieces (memory stays flat whatever the size).
    public func hashFile(path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw RAGError(.io, "\(path): cannot read the file (permission denied?)")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        do {
            while let piece = try handle.read(upToCount: 1 << 20), !piece.isEmpty {
                piece.withUnsafeBytes { hasher.update($0) }
            }
        } catch {
            throw RAGError(.io, "\(path): cannot read the file (\(error.localizedDescription))", underlying: error)
        }
        return hasher.finalizeHex()
    }

    /// A plain-text file as a sequence of blocks of about `blockSize` bytes, each cut at a
    /// paragraph break (else a line break, a space, or a character boundary), decoded and
    /// unwrapped like `PlainText`. Joined by blank lines, the blocks are the file's extracted text.
    /// `body` gets each block's text, the raw bytes read so far, and whether invalid UTF-8 was
    /// replaced in it.
    public func textBlocks(
        path: String, blockSize: Int = 4 << 20, _ body: (_ text: String, _ bytesRead: Int64, _ invalid: Bool) throws -> Void
    ) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw RAGError(.io, "\(path): cannot read the file (permission denied?)")
        }
        defer { try? handle.close() }
        var carry: [UInt8] = []
        var bytesRead: Int64 = 0
        var atEnd = false
        while !atEnd || !carry.isEmpty {
            while !atEnd, carry.count < blockSize {
                let piece: Data?
                do { piece = try handle.read(upToCount: blockSize) } catch {
                    throw RAGError(.io, "\(path): cannot read the file (\(error.localizedDescription))", underlying: error)
                }
                guard let piece, !piece.isEmpty else { atEnd = true; break }
                carry.append(contentsOf: piece)
            }
            let cut = atEnd ? carry.count : Self.blockCut(carry, near: blockSize)
            let block = carry[..<cut]
            if TextDecoding.looksBinary(block) {
                throw RAGError(.unsupported, "\(path): binary file (contains NUL bytes)")
            }
            bytesRead += Int64(cut)
            let (text, invalid) = TextDecoding.decodeUTF8(block)
            let unwrapped = TextDecoding.unwrapParagraphs(TextDecoding.normalizeNewlines(text))
            carry.removeFirst(cut)
            if !unwrapped.isEmpty { try body(unwrapped, bytesRead, invalid) }
        }
    }

    /// Where to end a block in `bytes`: after the last blank line in its second half, else after
    /// the last newline, else after the last space, else at a UTF-8 character boundary.
    static func blockCut(_ bytes: [UInt8], near size: Int) -> Int {
        let end = min(size, bytes.count)
        let floor = end / 2
        var i = end - 1
        while i > floor {
            if bytes[i] == 0x0A, bytes[i - 1] == 0x0A { return i + 1 }
            i -= 1
        }
        for separator: UInt8 in [0x0A, 0x20] {
            i = end - 1
            while i > floor {
                if bytes[i] == separator { return i + 1 }
                i -= 1
            }
        }
        i = end
        while i > 0, bytes[i] & 0xC0 == 0x80 { i -= 1 }  // not inside a multi-byte character
        return max(i, 1)
    }

    /// The title of a plain-text file: its first line, when short enough.
    public func plainTextTitle(path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path), let head = try? handle.read(upToCount: 4096) else { return nil }
        try? handle.close()
        let text = TextDecoding.decodeUTF8(head).text
        return PlainText.firstLineTitle(String(text.drop(while: \.isWhitespace).prefix(while: { $0 != "\n" })))
    }
}
