internal import Foundation
internal import GRDB
internal import RAGCore

extension SQLiteStore {
    /// Append-only, named migrations: never edit one that shipped, add another.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-documents-chunks-fts") { db in
            try db.execute(sql: Self.schemaV1)
            try db.execute(
                sql: "INSERT INTO index_state (id, format_version, chunker, created_at, updated_at) VALUES (1, ?, '', ?, ?)",
                arguments: [SQLiteStore.formatVersion, Date().timeIntervalSince1970, Date().timeIntervalSince1970])
        }
        migrator.registerMigration("v2-chunk-vectors") { db in
            try db.execute(sql: Self.schemaV2)
        }
        migrator.registerMigration("v3-hnsw") { db in
            try db.execute(sql: Self.schemaV3)
        }
        migrator.registerMigration("v4-revision") { db in
            try db.execute(sql: "ALTER TABLE index_state ADD COLUMN revision INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v5-fts-instance-vocabulary") { db in
            // FTS5's index read as rows (term, chunk, column, offset): what `BM25Index` is built from.
            try db.execute(sql: "CREATE VIRTUAL TABLE chunk_fts_instance USING fts5vocab(chunk_fts, instance)")
        }
        migrator.registerMigration("v6-churn-mark") { db in
            // Chunks deleted before the last compaction (`SQLiteStore+Compaction.swift`).
            try db.execute(sql: "ALTER TABLE index_state ADD COLUMN churn_mark INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v7-document-tags") { db in
            // What `SearchFilter.tags` selects documents by.
            try db.execute(sql: """
                CREATE TABLE document_tag (
                    document_id INTEGER NOT NULL REFERENCES document(id) ON DELETE CASCADE,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (document_id, key)
                ) WITHOUT ROWID;
                CREATE INDEX document_tag_value ON document_tag(key, value);
                """)
        }
        migrator.registerMigration("v8-tag-values") { db in
            // A key may carry several values (front matter's `tags: [a, b]`).
            try db.execute(sql: """
                CREATE TABLE document_tag_v8 (
                    document_id INTEGER NOT NULL REFERENCES document(id) ON DELETE CASCADE,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (document_id, key, value)
                ) WITHOUT ROWID;
                INSERT INTO document_tag_v8 (document_id, key, value) SELECT document_id, key, value FROM document_tag;
                DROP TABLE document_tag;
                ALTER TABLE document_tag_v8 RENAME TO document_tag;
                CREATE INDEX document_tag_value ON document_tag(key, value);
                """)
        }
        return migrator
    }

    /// The HNSW graph: its state (JSON in `index_state.hnsw`: format, parameters, entry point,
    /// version) and its pages (`HNSWGraph+Pages.swift`). Triggers log every vector written or
    /// deleted — directly or by a cascade — into `vector_change`, which the transaction's last
    /// step applies to the graph: the graph cannot drift from the vectors, whatever deleted them.
    static let schemaV3 = """
        CREATE TABLE hnsw_page (
            page INTEGER PRIMARY KEY,
            data BLOB NOT NULL
        );
        CREATE TABLE vector_change (
            chunk_id INTEGER PRIMARY KEY,
            added INTEGER NOT NULL
        );
        CREATE TRIGGER chunk_vector_added AFTER INSERT ON chunk_vector BEGIN
            INSERT OR REPLACE INTO vector_change (chunk_id, added) VALUES (new.chunk_id, 1);
        END;
        CREATE TRIGGER chunk_vector_removed AFTER DELETE ON chunk_vector BEGIN
            INSERT OR REPLACE INTO vector_change (chunk_id, added) VALUES (old.chunk_id, 0);
        END;
        ALTER TABLE index_state ADD COLUMN hnsw TEXT NOT NULL DEFAULT '';
        INSERT INTO vector_change (chunk_id, added) SELECT chunk_id, 1 FROM chunk_vector;
        """

    /// One vector per chunk (f32, little-endian BLOB of `dimensions` floats), deleted with its
    /// chunk; `index_state.embedder` names the model that made them.
    static let schemaV2 = """
        CREATE TABLE chunk_vector (
            chunk_id INTEGER PRIMARY KEY REFERENCES chunk(id) ON DELETE CASCADE,
            vector BLOB NOT NULL
        );
        ALTER TABLE index_state ADD COLUMN embedder TEXT NOT NULL DEFAULT '';
        """

    /// The first schema. `source` is a file on disk; `document` one document in it (a JSONL file
    /// holds many); `chunk` the unit of retrieval, mirrored into `chunk_fts` by triggers.
    static let schemaV1 = """
        CREATE TABLE source (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            format TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime REAL NOT NULL,
            content_hash TEXT NOT NULL,
            ingested_at REAL NOT NULL
        );
        CREATE TABLE document (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            source_id INTEGER NOT NULL REFERENCES source(id) ON DELETE CASCADE,
            path TEXT NOT NULL UNIQUE,
            content_hash TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime REAL NOT NULL,
            format TEXT NOT NULL,
            title TEXT,
            chunk_count INTEGER NOT NULL DEFAULT 0,
            ingested_at REAL NOT NULL
        );
        CREATE INDEX document_source ON document(source_id);
        CREATE TABLE chunk (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            document_id INTEGER NOT NULL REFERENCES document(id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            text TEXT NOT NULL,
            start_offset INTEGER NOT NULL,
            end_offset INTEGER NOT NULL,
            token_count INTEGER NOT NULL,
            heading TEXT NOT NULL DEFAULT '',
            UNIQUE (document_id, ordinal)
        );
        CREATE VIRTUAL TABLE chunk_fts USING fts5(
            text, heading,
            content = 'chunk', content_rowid = 'id',
            tokenize = 'porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER chunk_fts_insert AFTER INSERT ON chunk BEGIN
            INSERT INTO chunk_fts (rowid, text, heading) VALUES (new.id, new.text, new.heading);
        END;
        CREATE TRIGGER chunk_fts_delete AFTER DELETE ON chunk BEGIN
            INSERT INTO chunk_fts (chunk_fts, rowid, text, heading) VALUES ('delete', old.id, old.text, old.heading);
        END;
        CREATE TRIGGER chunk_fts_update AFTER UPDATE ON chunk BEGIN
            INSERT INTO chunk_fts (chunk_fts, rowid, text, heading) VALUES ('delete', old.id, old.text, old.heading);
            INSERT INTO chunk_fts (rowid, text, heading) VALUES (new.id, new.text, new.heading);
        END;
        CREATE TABLE index_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            format_version INTEGER NOT NULL,
            chunker TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        """

    func migrate() throws {
        let migrator = Self.migrator
        do {
            if try writer.read({ try migrator.hasBeenSuperseded($0) }) {
                throw RAGError(.unsupported, "\(path ?? "index"): written by a newer rag (unknown migrations); upgrade rag. The file was left untouched")
            }
            // Two processes creating one index at the same moment (two `rag ingest`s): each
            // migration is a transaction of its own, but the migrator reads which ones were
            // applied before it writes, so the other process may apply one in between, and this
            // one's then fails ("table … already exists"). While the other makes progress, read
            // them again and go on from there.
            var applied = try writer.read { try migrator.appliedIdentifiers($0) }
            while true {
                if try writer.read({ try migrator.hasCompletedMigrations($0) }) { return }
                do {
                    try migrator.migrate(writer)
                    return
                } catch {
                    let now = try writer.read { try migrator.appliedIdentifiers($0) }
                    guard now.count > applied.count else { throw error }
                    applied = now
                }
            }
        } catch {
            throw Self.mapError(error, path: path, doing: "prepare the index")
        }
    }
}
