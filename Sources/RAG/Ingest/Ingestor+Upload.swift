public import Foundation
public import RAGCore
internal import RAGStorage
internal import RAGText
internal import RAGEmbedding

extension Ingestor {
    /// Where an uploaded file is kept in the index: `upload/HASH/NAME`. The name is only a label
    /// (its last path component, cleaned); the content's hash makes the place, so a name such as
    /// `../../etc/passwd` is never a path anything is written to.
    public static func uploadPath(name: String, contentHash: String) -> String {
        let last = name.replacingOccurrences(of: "\\", with: "/").split(separator: "/").last.map(String.init) ?? ""
        var clean = String(last.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F && $0 != "#" }.map(Character.init))
        clean = String(clean.prefix(120)).trimmingCharacters(in: .whitespaces)
        if clean.isEmpty || clean.allSatisfy({ $0 == "." }) { clean = "upload" }
        return "upload/\(contentHash.prefix(16))/\(clean)"
    }

    /// The formats an upload may have.
    public static let uploadFormats: [DocumentFormat] = [.text, .markdown, .html, .pdf]

    /// Why an upload cannot be ingested, checked before anything is written.
    public enum UploadProblem: Sendable, Equatable {
        case unsupportedType(name: String)
        case empty(name: String)

        public var message: String {
            switch self {
            case .unsupportedType(let name): "\(name): unsupported file type; upload .txt, .md, .html or .pdf"
            case .empty(let name): "\(name): the file is empty"
            }
        }

        public var error: RAGError {
            switch self {
            case .unsupportedType: RAGError(.unsupported, message)
            case .empty: RAGError(.invalidInput, message)
            }
        }
    }

    /// The problem of an upload (its name gives the format), or nil when it can be ingested.
    public static func uploadProblem(name: String, bytes: Data) -> UploadProblem? {
        guard let format = DocumentFormat(fileName: name), uploadFormats.contains(format) else { return .unsupportedType(name: name) }
        return bytes.isEmpty ? .empty(name: name) : nil
    }

    /// Ingests the bytes of an uploaded file as one source (see `uploadPath`), with the chunker
    /// settings the index was built with. Nothing is written to the file system but a private
    /// temporary copy of a PDF for `pdftotext`, removed afterwards. Same bytes again: unchanged.
    public func ingest(upload name: String, bytes: Data, progress: (@Sendable (IngestProgress) -> Void)? = nil) throws -> (report: IngestReport, path: String) {
        let started = Date()
        if let problem = Self.uploadProblem(name: name, bytes: bytes) { throw problem.error }
        guard let format = DocumentFormat(fileName: name) else { preconditionFailure("Programmer error: uploadProblem let \(name) through") }
        var options = Options()
        if let stored = try? Chunker.Configuration(signature: store.chunker()) { options.chunker = stored }
        let chunker = Chunker(configuration: options.chunker, counter: counter)
        let embedderName = embedder.map { "\($0.name)/\($0.dimensions)" } ?? ""
        let stored = try store.embedder()
        if !stored.isEmpty, stored != embedderName {
            throw RAGError(.model, "the index holds vectors of \(stored) but this server embeds with \(embedderName.isEmpty ? "nothing" : embedderName); restart it with the index's embedder")
        }
        try store.transaction { try $0.setChunker(chunkerSignature(options.chunker), embedder: embedderName) }

        var file = SourceFile(path: "", format: format, bytes: bytes)
        let path = Self.uploadPath(name: name, contentHash: file.contentHash)
        file.path = path
        var report = IngestReport()
        report.files = 1
        let existing = try store.source(path: path)
        if let existing, existing.contentHash == file.contentHash {
            report.unchanged = try store.documentCount(sourceID: existing.id)
            report.seconds = Date().timeIntervalSince(started)
            return (report, path)
        }
        var documents: [LoadedDocument]
        if format == .pdf {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rag-upload-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            defer { try? FileManager.default.removeItem(at: folder) }
            let copy = folder.appendingPathComponent("\(file.contentHash).pdf").path
            guard FileManager.default.createFile(atPath: copy, contents: bytes, attributes: [.posixPermissions: 0o600]) else {
                throw RAGError(.io, "\(name): cannot write a temporary copy for pdftotext in \(folder.path)")
            }
            var local = file
            local.path = copy
            do {
                documents = try loader.load(local)
            } catch var error as RAGError {
                // The reason names the upload, not the private copy.
                error.message = error.message.replacingOccurrences(of: copy, with: name)
                throw error
            }
            for i in documents.indices {
                documents[i].path = path
                documents[i].warnings = documents[i].warnings.map { $0.replacingOccurrences(of: copy, with: name) }
            }
        } else {
            documents = try loader.load(file)
        }
        let now = Date().timeIntervalSince1970
        let version = FileVersion(path: path, format: format, size: Int64(bytes.count), mtime: now, contentHash: file.contentHash)
        try write(documents, of: version, existing: existing, chunker: chunker, options: options, report: &report) { report, done in
            progress?(IngestProgress(
                filesDone: 0, filesTotal: 1, documents: report.documents, chunks: report.chunks, bytesDone: done,
                bytesTotal: Int64(bytes.count), elapsed: Date().timeIntervalSince(started), currentPath: path))
        }
        report.seconds = Date().timeIntervalSince(started)
        return (report, path)
    }
}

extension Chunker.Configuration {
    /// The configuration an index records (`index_state.chunker`), e.g.
    /// `{"token_budget":200,"overlap_fraction":0.35,"counter":"…"}`.
    init(signature: String) throws {
        guard let object = try JSONSerialization.jsonObject(with: Data(signature.utf8)) as? [String: Any],
              let budget = object["token_budget"] as? Int, let overlap = object["overlap_fraction"] as? Double
        else { throw RAGError(.invalidInput, "not a chunker signature: \(signature)") }
        self.init()
        tokenBudget = budget
        overlapFraction = overlap
    }
}
