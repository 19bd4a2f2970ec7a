import ArgumentParser
import Foundation
import RAG
import RAGCore
import RAGStorage
import Synchronization

/// `rag chat`: questions and follow-ups in one session over an index.
struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask questions of an index in a conversation; follow-up questions work.",
        discussion: """
            Each answer streams, then its sources. A follow-up ("and how much memory does it save?") \
            is first rewritten by the model into a question that stands alone, and retrieval searches \
            with that (shown as "searching for: …"). Commands: /sources (the last answer's sources \
            with their text), /reset (forget the conversation), /template NAME, /help. Ctrl-C stops \
            the answer being written (not the session); Ctrl-D quits. Without a terminal, every line \
            of the input is a question.
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var embedderOptions: EmbedderOptions
    @OptionGroup var generatorOptions: GeneratorOptions
    @OptionGroup var remote: RemoteGeneratorOptions
    @OptionGroup var answer: AnswerOptions

    /// What Ctrl-C does: stop the answer being written, or (between answers) say how to quit.
    final class Interrupt: Sendable {
        let answering = Atomic<Bool>(false)
        let stop = Atomic<Bool>(false)
    }

    func run() async throws {
        do {
            let service = try makeService(
                db: store.db, .mustExist, embedder: embedderOptions, generator: generatorOptions, remote: remote, fusion: answer.fusion,
                answer.configure)
            try service.checkTemplate(answer.template)
            let answerer = try service.answerer()
            var options = answer.askOptions(mode: try service.mode(), speculate: !generatorOptions.noSpeculate)
            let interactive = isatty(STDIN_FILENO) != 0
            let interrupt = Interrupt()
            signal(SIGINT, SIG_IGN)
            let signals = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
            signals.setEventHandler {
                if interrupt.answering.load(ordering: .acquiring) {
                    interrupt.stop.store(true, ordering: .releasing)
                } else {
                    write("\n(Ctrl-D quits)\n› ")
                }
            }
            signals.resume()
            defer { signals.cancel() }

            if interactive { write("rag chat over \(displayPath(store.db)): ask a question; /help lists the commands, Ctrl-D quits.\n") }
            var turns: [ChatMessage] = []
            var last: AskResult?
            while true {
                if interactive { write("› ") }
                guard let line = readLine() else { break }
                let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if text.isEmpty { continue }
                if text.hasPrefix("/") {
                    let words = text.split(separator: " ", maxSplits: 1).map(String.init)
                    switch words[0] {
                    case "/sources":
                        guard let last, !last.sources.isEmpty else { say("(no sources yet)"); continue }
                        for s in last.sources {
                            say("[\(s.n)] \(displayPath(s.document))" + (s.heading.isEmpty ? "" : " › \(s.heading)"))
                            say("    " + String(s.text.prefix(400)).replacingOccurrences(of: "\n", with: " ") + (s.text.count > 400 ? " …" : ""))
                        }
                    case "/reset":
                        turns = []
                        last = nil
                        say("(conversation cleared)")
                    case "/template" where words.count == 2:
                        do {
                            try service.checkTemplate(words[1])
                            options.template = words[1]
                            say("(template: \(words[1]))")
                        } catch let error as RAGError {
                            say("(\(error.message))")
                        }
                    case "/help":
                        say("/sources  the last answer's sources with their text\n/reset    forget the conversation\n/template NAME  answer with another template (\(service.templates.names.joined(separator: ", ")))\nCtrl-C stops an answer; Ctrl-D quits.")
                    default:
                        say("(unknown command \(words[0]); /help lists them)")
                    }
                    continue
                }
                interrupt.stop.store(false, ordering: .releasing)
                interrupt.answering.store(true, ordering: .releasing)
                let stopped = { interrupt.stop.load(ordering: .acquiring) }
                let question = try answerer.standalone(text, after: turns, cancelled: stopped)
                if question != text { say("(searching for: \(question))") }
                let result = try answerer.ask(question, options: options, history: turns, emit: { write($0) }, cancelled: stopped)
                interrupt.answering.store(false, ordering: .releasing)
                if result.generation?.stopReason == .cancelled {
                    say("\n(stopped)")
                } else {
                    say("")
                    if !result.sources.isEmpty {
                        say("Sources: " + result.sources.map { "[\($0.n)] \(displayPath($0.document))" }.joined(separator: " · "))
                    }
                }
                if interactive { say("") }
                turns += [ChatMessage(.user, text), ChatMessage(.assistant, result.answer)]
                last = result
            }
            if interactive { say("") }
        } catch {
            throw fail(error)
        }
    }
}

/// Writes to stdout at once (no buffering: streamed pieces and whole lines stay in order).
private func write(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

private func say(_ line: String) { write(line + "\n") }
