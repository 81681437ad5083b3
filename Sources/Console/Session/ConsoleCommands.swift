/// The `:` command line: what the person typed, understood.
///
/// | typed | does |
/// |---|---|
/// | `:failures`, `:jobs`, `:live` … (or `:f`, `:j` …) | switches view |
/// | `:failures INVALID_FIELD` | opens the failed rows of that code |
/// | `:row 123` | opens a row's detail |
/// | `:job 45` | opens a job's rows |
/// | `:theme light` | changes the look (`:theme` alone lists the themes) |
/// | `:push a0B5g00000XyZ12` | pushes a Salesforce record to the EMR |
/// | `:sync` | runs a sync cycle now |
/// | `:retry INVALID_FIELD` | retries every failed row with that code, after y/n |
/// | `:help`, `:q` | help, quit |
enum ConsoleCommands {
    enum Command: Hashable {
        case view(ConsoleTab)
        case failures(code: String)
        case row(Int64)
        case job(Int64)
        case events
        case theme(String?)
        case push(String)
        case sync
        case retry(code: String)
        case help
        case quit
        case unknown(String)
        case empty
    }

    /// Every command word, for completion.
    static let words = [
        "live", "staged", "failures", "policy", "jobs", "conflicts", "events", "row", "job", "theme", "push", "sync", "retry", "help", "quit",
    ]

    static func parse(_ text: String) -> Command {
        let words = text.split(separator: " ").map(String.init)
        guard let word = words.first?.lowercased() else { return .empty }
        let argument = words.count > 1 ? words[1] : nil
        switch (word, argument) {
        case ("row", let id?): return Int64(id).map(Command.row) ?? .unknown(text)
        case ("job", let id?): return Int64(id).map(Command.job) ?? .unknown(text)
        case ("failures", let code?), ("fail", let code?), ("f", let code?): return .failures(code: code)
        case ("theme", let name): return .theme(name)
        case ("push", let id?): return .push(id)
        case ("sync", nil): return .sync
        case ("retry", let code?): return .retry(code: code)
        case ("help", nil), ("?", nil), ("h", nil): return .help
        case ("events", nil), ("event", nil), ("ev", nil): return .events
        case ("q", nil), ("quit", nil), ("q!", nil), ("exit", nil): return .quit
        case (_, nil): return ConsoleTab.named(word).map(Command.view) ?? .unknown(word)
        default: return .unknown(word)
        }
    }

    /// The command word `text` is the start of, when exactly one is (`fa` → `failures`).
    static func completion(of text: String) -> String? {
        guard !text.isEmpty, !text.contains(" ") else { return nil }
        let matches = words.filter { $0.hasPrefix(text.lowercased()) && $0 != text.lowercased() }
        return matches.count == 1 ? matches[0] : nil
    }
}
