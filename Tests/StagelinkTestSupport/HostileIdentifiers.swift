import Foundation

/// The hostile identifiers of the corpus: `Tests/HostileInputs/identifiers.jsonl` (written by
/// `make_corpus.py`), one JSON string a line — the ids every URL the clients build is tested with.
public enum HostileIdentifiers {
    public static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: "HostileInputs/identifiers.jsonl")

    public static func all() throws -> [String] {
        try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map { try JSONDecoder().decode(String.self, from: Data($0.utf8)) }
    }
}
