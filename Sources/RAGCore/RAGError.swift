/// The one error type rag's modules throw: a code to branch on, a message a person can act on.
///
/// Messages say what happened, where, and what to do:
/// `"notes.sqlite: not a SQLite database (header is 'PK\u{3}\u{4}…'); pass another --db or delete the file"`.
public struct RAGError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. A struct over a private enum so cases can be added freely.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String, Hashable, Sendable {
            case invalidInput, notFound, corruptFile, unsupported, storage, model, busy, io, unavailable
        }
        private let wrapped: Wrapped
        public static var invalidInput: Self { .init(wrapped: .invalidInput) }
        public static var notFound: Self { .init(wrapped: .notFound) }
        public static var corruptFile: Self { .init(wrapped: .corruptFile) }
        public static var unsupported: Self { .init(wrapped: .unsupported) }
        public static var storage: Self { .init(wrapped: .storage) }
        public static var model: Self { .init(wrapped: .model) }
        /// Another process holds the write lock and did not release it in time.
        public static var busy: Self { .init(wrapped: .busy) }
        /// Reading or writing a file failed (permissions, disk full, …).
        public static var io: Self { .init(wrapped: .io) }
        /// A server rag calls (a remote generator) could not be reached, refused or failed.
        public static var unavailable: Self { .init(wrapped: .unavailable) }
        public var description: String { wrapped.rawValue }
    }

    public var code: Code
    /// What happened, expected vs found, and the remedy.
    public var message: String
    public var underlying: (any Error)?
    /// `#fileID:#line` of the throw.
    public var location: String

    public init(
        _ code: Code, _ message: String, underlying: (any Error)? = nil,
        fileID: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.underlying = underlying
        self.location = "\(fileID):\(line)"
    }

    public var description: String { message }
}
