import Foundation
import RAGTesting
import Testing

/// `rag chat` end to end with the small model: lines from a pipe, and a terminal driven
/// through tmux (Ctrl-C stops an answer, not the session; Ctrl-D quits).
@Suite(.onTestThreads, .enabled(if: ModelFiles.haveEmbedderAndSmallGenerator, "needs the embedding model and the small generator (make models)"))
struct ChatCLITests {
    static func folder() throws -> TempDir {
        let dir = try TempDir()
        try dir.write("docs/harbor.md", "# Harbor\n\nHarbor stores its HNSW vector index inside a SQLite file named harbor.db. The default ef_search is 64.\n")
        try dir.write("docs/lantern.md", "# Lantern\n\nLantern is a caching proxy that listens on port 7070.\n")
        #expect(try RagBinary.run(["ingest", "docs", "--db", "i.sqlite"], in: dir.url).status == 0)
        return dir
    }

    @Test func everyLineOfAPipeIsAQuestionOrACommand() throws {
        let dir = try Self.folder()
        try dir.write("input.txt", "Which port does Lantern listen on?\nand what is it?\n/sources\n/template nope\n/template yesno\n/reset\n/help\n")
        let r = try RagBinary.run(
            ["-c", "'\(RagBinary.path)' chat --db i.sqlite --model '\(GenerateCLITests.model)' --max-tokens 16 --abstain-below=-1 < input.txt"],
            in: dir.url, executable: "/bin/sh")
        #expect(r.status == 0, "\(r.stderr)")
        let out = r.stdout
        #expect(out.components(separatedBy: "Sources: [1] docs/").count == 3, "\(out)")  // two answers with their sources
        #expect(out.contains("(searching for: "), "the follow-up was not rewritten: \(out)")
        #expect(out.contains("    Lantern is a caching proxy"), "/sources: \(out)")
        #expect(out.contains("(no template \"nope\"") && out.contains("(template: yesno)") && out.contains("(conversation cleared)"), "\(out)")
        #expect(out.contains("/reset    forget the conversation") && !out.hasPrefix("› ") && !out.contains("\n› "), "\(out)")
    }

    @Test func inATerminalCtrlCStopsTheAnswerAndCtrlDQuits() throws {
        let dir = try Self.folder()
        let socket = "rag-test-\(UUID().uuidString.prefix(8))"
        // Through Python's subprocess, which closes every other descriptor in the child: the tmux
        // server the first call starts (and the shell it runs) would otherwise inherit this
        // process's, and Foundation would wait for ever for the call to end.
        func tmux(_ arguments: [String]) throws -> RagBinary.Result {
            try RagBinary.run(
                ["-c", "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL).returncode)", "tmux", "-L", socket] + arguments,
                in: dir.url, executable: "/usr/bin/python3")
        }
        func screen() throws -> String { try tmux(["capture-pane", "-p", "-t", "chat", "-S", "-200"]).stdout }
        func waitFor(_ what: String, within seconds: Double = 120, _ condition: (String) -> Bool) throws {
            let end = Date().addingTimeInterval(seconds)
            while Date() < end {
                if condition(try screen()) { return }
                Thread.sleep(forTimeInterval: 0.05)
            }
            Issue.record("\(what) did not happen in \(Int(seconds)) s; the screen:\n\(try screen())")
        }
        let command = "cd '\(dir.url.path)' && '\(RagBinary.path)' chat --db i.sqlite --model '\(GenerateCLITests.model)' --max-tokens 2000 --context 4096 --ignore-eos --abstain-below=-1; echo chat-ended-$?; sleep 60"
        #expect(try tmux(["new-session", "-d", "-s", "chat", "-x", "160", "-y", "50", command]).status == 0)
        defer { _ = try? tmux(["kill-server"]) }
        try waitFor("the prompt") { $0.contains("Ctrl-D quits.\n›") }  // (capture-pane drops trailing blanks)
        _ = try tmux(["send-keys", "-t", "chat", "Describe Harbor in detail.", "Enter"])
        // The answer starts (text after the question's line), then Ctrl-C.
        try waitFor("an answer") { screen in
            guard let asked = screen.range(of: "› Describe Harbor in detail.\n") else { return false }
            return screen[asked.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines).count > 10
        }
        _ = try tmux(["send-keys", "-t", "chat", "C-c"])
        try waitFor("(stopped)", within: 60) { $0.contains("(stopped)") }
        // The session goes on: another question, answered with its sources.
        _ = try tmux(["send-keys", "-t", "chat", "/reset", "Enter"])
        try waitFor("/reset") { $0.contains("(conversation cleared)") }
        _ = try tmux(["send-keys", "-t", "chat", "C-d"])
        try waitFor("the end", within: 30) { $0.contains("chat-ended-0") }
    }
}
