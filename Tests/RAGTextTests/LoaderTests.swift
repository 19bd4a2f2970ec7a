import Foundation
import RAGCore
import Testing
@testable import RAGText

@Suite struct MarkdownTests {
    @Test func headingsBecomeTheSectionPathAndMarkupIsStripped() {
        let source = """
            ---
            title: "The Guide"
            author: us
            ---
            # Caching

            Semantic caches **reuse** answers for *similar* questions, see [GPTCache](https://example.org) and `ttl`.
            A wrapped line
            continues the paragraph.

            ## Eviction
            - LRU drops the least recently used entry.
            - TTL expires entries![icon](i.png)

            Setext heading
            --------------
            ```swift
            let snake_case = 1
            ```
            | a | b |
            |---|:-:|
            | 1 | 2 |
            """
        let (title, sections, tags) = MarkdownParser.parse(source)
        #expect(title == "The Guide")
        #expect(tags == ["title": ["The Guide"], "author": ["us"]])
        #expect(sections.map(\.headings) == [["Caching"], ["Caching", "Eviction"], ["Caching", "Setext heading"]])
        #expect(sections[0].text == "Semantic caches reuse answers for similar questions, see GPTCache and ttl. A wrapped line continues the paragraph.")
        #expect(sections[1].text == "LRU drops the least recently used entry.\n\nTTL expires entriesicon")
        #expect(sections[2].text.contains("let snake_case = 1"))
        #expect(sections[2].text.contains("1 2"))
        #expect(!sections[2].text.contains("---"))
    }

    @Test func firstH1IsTheTitleWithoutFrontMatter() {
        let (title, sections, tags) = MarkdownParser.parse("Intro text.\n\n# Main *Title*\n\nBody.")
        #expect(title == "Main Title")
        #expect(tags.isEmpty)
        #expect(sections.map(\.text) == ["Intro text.", "Body."])
    }

    @Test func frontMatterFieldsBecomeTags() {
        let source = """
            ---
            title: 'Rust''s async'   
            date: 2026-11-30
            tags: [rust, "async, await", rust]
            categories:
              - systems
              - "lang"
            keywords: tokio, futures # a comment
            summary: >
              Folded over
              two lines.
            owner:
              name: someone
              team: infra
            draft: ~
            weird key: ignored
            url: https://example.org/a#b
            ---
            # Heading

            Body.
            """
        let (title, sections, tags) = MarkdownParser.parse(source)
        #expect(title == "Rust's async")
        #expect(tags == [
            "title": ["Rust's async"], "date": ["2026-11-30"], "tags": ["rust", "async, await"], "categories": ["systems", "lang"],
            "keywords": ["tokio", "futures"], "summary": ["Folded over two lines."], "url": ["https://example.org/a#b"],
        ])
        #expect(sections.map(\.text) == ["Body."])

        // A block list at the key's own indentation; an unclosed front matter is text.
        #expect(MarkdownParser.parse("---\ntags:\n- a\n- b\n---\nx").tags == ["tags": ["a", "b"]])
        let unclosed = MarkdownParser.parse("---\ntags: [a]\n\nText.")
        #expect(unclosed.tags.isEmpty)
        #expect(unclosed.sections.map(\.text).joined().contains("Text."))
    }

    @Test func inlineStripping() {
        #expect(MarkdownParser.stripInline("a_b_c __bold__ ~~gone~~ \\*lit\\* <b>x</b> <https://a.b/c> 3 * 4") == "a_b_c bold gone *lit* x https://a.b/c 3 * 4")
        #expect(MarkdownParser.stripInline("see [the docs](https://x.y) and [ref][1], `a ``b`` c` ``x`") == "see the docs and ref, a ``b`` c x")
    }

    /// Lines built so that each `[`, `](`, `<` or backtick run once searched to the end of the
    /// line: two megabytes of them took hours; the searches that fail are now remembered.
    @Test func inlineStrippingIsLinearOnHostileLines() {
        let n = 1 << 20
        let brackets = String(repeating: "[", count: n)
        #expect(MarkdownParser.stripInline(brackets) == brackets)
        let links = String(repeating: "[a](", count: n / 4)
        #expect(MarkdownParser.stripInline(links).count == n / 4 * 2)
        let tags = String(repeating: "<", count: n)
        #expect(MarkdownParser.stripInline(tags) == tags)
        var ticks = ""
        for k in 1...1400 { ticks += String(repeating: "`", count: k) + "x" }
        #expect(MarkdownParser.stripInline(ticks).count == 1400)
    }
}

@Suite struct HTMLTests {
    @Test func scriptsDroppedEntitiesDecodedTitleAndHeadingsKept() {
        let html = """
            <!DOCTYPE html><html><head><title>Speculative &amp; Fast</title>
            <style>p { color: red }</style><script>document.write("<p>nope</p>")</script></head>
            <body><!-- a comment --><h1>Decoding</h1><p>A draft model proposes &#x2014; the target&nbsp;verifies.</p>
            <h2>Acceptance</h2><ul><li>Greedy &lt;match&gt;</li><li>Sampling &#8220;rejection&#8221;</li></ul>
            <table><tr><td>k</td><td>4</td></tr></table><p>Unknown &bogus; stays</p></body></html>
            """
        let (title, sections) = HTMLParser.parse(html)
        #expect(title == "Speculative & Fast")
        #expect(sections.map(\.headings) == [["Decoding"], ["Decoding", "Acceptance"]])
        #expect(sections[0].text == "A draft model proposes — the target verifies.")
        #expect(sections[1].text == "Greedy <match>\n\nSampling “rejection”\n\nk 4\n\nUnknown &bogus; stays")
        #expect(!sections.contains { $0.text.contains("nope") || $0.text.contains("color") || $0.text.contains("comment") })
    }
}

@Suite struct DocumentLoaderTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("rag-loader-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func load(_ path: String) throws -> [LoadedDocument] {
        let loader = DocumentLoader()
        return try loader.load(loader.read(path: path, format: DocumentFormat(fileName: path)!))
    }

    @Test func plainTextUnwrapsLinesAndTakesTheFirstLineAsTitle() throws {
        let path = try write("notes.txt", Array("Batching notes\n\nContinuous batching adds\nrequests as slots free up.\n".utf8))
        let docs = try load(path)
        #expect(docs.count == 1)
        #expect(docs[0].title == "Batching notes")
        #expect(docs[0].sections == [Section(text: "Batching notes\n\nContinuous batching adds requests as slots free up.")])
        #expect(docs[0].contentHash == SHA256.hex(Array("Batching notes\n\nContinuous batching adds\nrequests as slots free up.\n".utf8)))
    }

    @Test func invalidUTF8IsReplacedWithAWarning() throws {
        let path = try write("bad.txt", Array("caf".utf8) + [0xC3, 0x28] + Array(" au lait.".utf8))
        let docs = try load(path)
        #expect(docs[0].sections[0].text == "caf\u{FFFD}( au lait.")
        #expect(docs[0].warnings.count == 1 && docs[0].warnings[0].contains("invalid UTF-8"))
    }

    @Test func nulBytesMeanBinaryAndAreRefused() throws {
        let path = try write("image.md", [0x89, 0x50, 0x4E, 0x47, 0x00, 0x00])
        #expect { try load(path) } throws: { ($0 as? RAGError)?.message.contains("binary") == true }
    }

    @Test func jsonlGivesOneDocumentPerRecordAndSkipsBadLines() throws {
        let lines = """
            {"_id": "d1", "title": "First", "text": "Alpha text."}
            not json
            {"_id": 7, "title": "", "text": "Numeric id."}
            {"_id": "d1", "title": "Again", "text": "Duplicate."}

            """
        let path = try write("corpus.jsonl", Array(lines.utf8))
        let docs = try load(path)
        #expect(docs.map(\.path) == ["\(path)#d1", "\(path)#7"])
        #expect(docs[0].sections == [Section(headings: ["First"], text: "Alpha text.")])
        #expect(docs[1].title == nil)
        #expect(docs[0].warnings.count == 2)
        #expect(docs[0].contentHash == SHA256.hex(Array(#"{"_id": "d1", "title": "First", "text": "Alpha text."}"#.utf8)))
    }

    @Test func pdfTextComesFromPdftotextOnePagePerSection() throws {
        let path = try write("paper.pdf", TinyPDF.make(pages: [["Pruning removes weights.", "Magnitude pruning is simple."], ["Distillation trains a student."]]))
        let docs = try load(path)
        #expect(docs[0].sections.map(\.headings) == [["page 1"], ["page 2"]])
        #expect(docs[0].sections[0].text == "Pruning removes weights. Magnitude pruning is simple.")
        #expect(docs[0].sections[1].text == "Distillation trains a student.")
        #expect(docs[0].title == "Pruning removes weights.")
    }

    @Test func aCorruptPDFIsAClearError() throws {
        let path = try write("broken.pdf", Array("%PDF-1.4\nthis is not really a pdf".utf8))
        #expect { try load(path) } throws: { ($0 as? RAGError)?.message.contains("pdftotext failed") == true }
    }

    /// pdftotext runs with a time limit and an output limit: a PDF that expands without end,
    /// or never finishes, is a clear error in bounded time (stand-ins play pdftotext here).
    @Test func pdftotextIsBoundedInTimeAndOutput() throws {
        let path = try write("x.pdf", TinyPDF.make(pages: [["Hi."]]))
        let endless = try write("endless.sh", Array("#!/bin/sh\nexec yes 'a line of text that never ends'\n".utf8))
        let stuck = try write("stuck.sh", Array("#!/bin/sh\nexec sleep 600\n".utf8))
        for script in [endless, stuck] { chmod(script, 0o755) }
        let tooMuch = DocumentLoader(pdftotext: endless, pdfTimeout: 120, maxPDFTextBytes: 1 << 20)
        #expect { try tooMuch.load(tooMuch.read(path: path, format: .pdf)) } throws: {
            ($0 as? RAGError)?.message.contains("more than 1 MiB of text") == true
        }
        let tooLong = DocumentLoader(pdftotext: stuck, pdfTimeout: 1)
        #expect { try tooLong.load(tooLong.read(path: path, format: .pdf)) } throws: {
            ($0 as? RAGError)?.message.contains("longer than 1 s") == true
        }
    }

    @Test func missingPdftotextIsAClearError() throws {
        let path = try write("x.pdf", TinyPDF.make(pages: [["Hi."]]))
        let loader = DocumentLoader(pdftotext: "/nonexistent/pdftotext")
        #expect { try loader.load(loader.read(path: path, format: .pdf)) } throws: {
            ($0 as? RAGError)?.message.contains("poppler-utils") == true
        }
    }
}

/// Writes a small, valid PDF (Helvetica text, one line per string) for loader tests.
enum TinyPDF {
    static func make(pages: [[String]]) -> [UInt8] {
        var objects: [String] = []
        let pageIDs = pages.indices.map { 4 + $0 * 2 }
        objects.append("<< /Type /Catalog /Pages 2 0 R >>")
        objects.append("<< /Type /Pages /Kids [\(pageIDs.map { "\($0) 0 R" }.joined(separator: " "))] /Count \(pages.count) >>")
        objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
        for lines in pages {
            var stream = "BT /F1 12 Tf 72 720 Td 16 TL\n"
            for line in lines { stream += "(\(line)) Tj T*\n" }
            stream += "ET"
            let pageID = 4 + (objects.count - 3)
            objects.append("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents \(pageID + 1) 0 R >>")
            objects.append("<< /Length \(stream.utf8.count) >>\nstream\n\(stream)\nendstream")
        }
        var out = "%PDF-1.4\n"
        var offsets: [Int] = []
        for (i, object) in objects.enumerated() {
            offsets.append(out.utf8.count)
            out += "\(i + 1) 0 obj\n\(object)\nendobj\n"
        }
        let xref = out.utf8.count
        out += "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        for offset in offsets { out += String(repeating: "0", count: 10 - String(offset).count) + "\(offset) 00000 n \n" }
        out += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        return Array(out.utf8)
    }
}
