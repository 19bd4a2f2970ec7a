internal import CICUShim
internal import RAGCore

/// Splits text into sentences with ICU's sentence break rules (`en_US@ss=standard`, which keeps
/// "e.g." and "Mr." inside their sentences).
public enum SentenceSplitter {
    /// Byte ranges (UTF-8) of the sentences in `text`, in order, each trimmed of surrounding
    /// white space; sentences that are only white space are dropped.
    public static func sentenceRanges(in text: String) throws -> [Range<Int>] {
        var text = text
        return try text.withUTF8 { utf8 -> [Range<Int>] in
            guard let base = utf8.baseAddress, utf8.count > 0 else { return [] }
            var status: Int32 = 0
            let iterator = base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                rag_sentences_open($0, Int64(utf8.count), &status)
            }
            guard let iterator else {
                let name = String(cString: rag_icu_error_name(status))
                throw RAGError(.unsupported, "ICU could not open a sentence iterator (\(name)); is libicu installed? Run `make setup`.")
            }
            defer { rag_sentences_close(iterator) }
            var ranges: [Range<Int>] = []
            var start = 0
            while true {
                let next = rag_sentences_next(iterator)
                if next < 0 { break }
                let end = Int(next)
                if let trimmed = trim(start..<end, in: utf8) { ranges.append(trimmed) }
                start = end
            }
            if start < utf8.count, let trimmed = trim(start..<utf8.count, in: utf8) { ranges.append(trimmed) }
            return ranges
        }
    }

    /// `range` without leading and trailing ASCII white space, or nil if nothing is left.
    static func trim(_ range: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, isSpace(bytes[lower]) { lower += 1 }
        while upper > lower, isSpace(bytes[upper - 1]) { upper -= 1 }
        return lower < upper ? lower..<upper : nil
    }

    @inline(__always) static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D || byte == 0x0C || byte == 0x0B
    }
}
