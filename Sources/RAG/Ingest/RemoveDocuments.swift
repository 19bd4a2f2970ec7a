public import RAGCore
public import RAGStorage

/// `rag docs rm`: removes a document, a file's documents, or everything below a folder.
public struct RemoveDocuments: Sendable {
    public let store: any IndexStore
    public init(store: any IndexStore) { self.store = store }

    /// Removes what `path` names; returns how many documents went.
    public func remove(_ path: String) throws -> Int {
        let documents = try store.documents(under: path)
        guard !documents.isEmpty else { return 0 }
        let sources = try store.sources(under: path)
        let whole = Set(sources.map(\.id))
        // A record removed from a file that stays (one JSONL line): clear the file's hash so the
        // next ingest reads it again instead of skipping it as unchanged.
        let partial = try store.allSources().filter { source in
            !whole.contains(source.id) && documents.contains { $0.path.hasPrefix(source.path + "#") }
        }
        try store.transaction { tx in
            for source in sources { try tx.deleteSource(id: source.id) }
            for document in documents { try tx.deleteDocument(id: document.id) }
            for source in partial { try tx.invalidateSource(id: source.id) }
        }
        // The documents are gone; a compaction that cannot run now is tried after the next deletion.
        _ = try? store.compactIfChurned()
        return documents.count
    }

    /// Removes one document, its chunks and vectors, in one transaction; nil when there is no
    /// such document. The document's file goes too when it held nothing else; a record of a
    /// file that stays (one JSONL line) clears the file's hash, so the next ingest reads it again.
    public func remove(id: DocumentID) throws -> DocumentRecord? {
        // Read and written in one transaction: another writer cannot slip between the look
        // and the delete.
        let removed: DocumentRecord? = try store.transaction { tx in
            guard let document = try tx.document(id: id) else { return nil }
            let file = try tx.source(path: document.path)
            let onlyDocumentOfItsFile = try file.map { try tx.documentCount(sourceID: $0.id) == 1 } ?? false
            let container = try document.path.firstIndex(of: "#").flatMap { try tx.source(path: String(document.path[..<$0])) }
            try tx.deleteDocument(id: document.id)
            if let file, onlyDocumentOfItsFile {
                try tx.deleteSource(id: file.id)
            } else if let container {
                try tx.invalidateSource(id: container.id)
            }
            return document
        }
        if removed != nil { _ = try? store.compactIfChurned() }
        return removed
    }
}
