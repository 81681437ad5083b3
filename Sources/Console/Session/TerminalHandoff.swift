import Foundation
import Glibc
import StagelinkEngine

/// Something the console hands to the terminal around it, which only the code that owns the
/// terminal can do: put text on the person's clipboard, or show a file in their pager.
///
/// The session queues these; `Console.run` carries them out between frames, and a headless
/// console keeps them for tests to read.
enum TerminalHandoff: Equatable {
    /// An OSC 52 sequence that sets the terminal's clipboard (xterm, iTerm2, kitty, WezTerm,
    /// Windows Terminal, and tmux with `set-clipboard on`).
    case clipboard(String)
    /// A file to show in `$PAGER` (`less` when unset); deleted when the pager exits.
    case pager(path: String)

    /// The OSC 52 sequence that puts `text` on the clipboard. The text travels as base64, so
    /// nothing in it can reach the terminal as a control sequence.
    static func clipboard(of text: String) -> TerminalHandoff {
        .clipboard("\u{1b}]52;c;" + Data(text.utf8).base64EncodedString() + "\u{07}")
    }
}

/// Files the console writes beside the store: what `y` copied (the fallback for terminals that
/// ignore OSC 52) and what `o` hands to the pager.
///
/// They hold patient data, so they are created readable by their owner only, like the store,
/// and never follow a symbolic link someone left in their place.
struct HandoffFiles {
    /// The store's folder.
    var folder: String

    /// The configuration's hand-off folder, else the store file's.
    init(_ configuration: ConsoleConfiguration) {
        folder = configuration.handoffFolder ?? URL(fileURLWithPath: configuration.storePath).deletingLastPathComponent().path
    }

    /// Where `y` writes what it copied: one file, replaced by each copy.
    var copiedPath: String { folder + "/stagelink-copied.txt" }

    /// A file for the pager, named for the row and the process.
    func pagerPath(row: Int64) -> String { folder + "/stagelink-row-\(row)-\(getpid()).txt" }

    /// Writes `text` to `path`, owner-only (0600), replacing what was there.
    func write(_ text: String, to path: String) throws(HandoffError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw HandoffError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        // A file that was there before keeps its old mode through O_CREAT: set it again.
        guard fchmod(descriptor, 0o600) == 0 else { throw HandoffError(path: path, reason: String(cString: strerror(errno))) }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + written, bytes.count - written) }
            guard result > 0 else { throw HandoffError(path: path, reason: String(cString: strerror(errno))) }
            written += result
        }
    }

    /// A text for the pager: each line with its control characters escaped (the pager draws on
    /// the person's terminal as the console does), the line breaks kept.
    static func pageable(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { SafeText.escaped(String($0)) }.joined(separator: "\n")
    }

    /// Runs `$PAGER` (or `less`) on a file in this terminal and waits for it; the file is
    /// deleted afterwards. The command comes from the person's own environment and the path goes
    /// to it as an argument, never spliced into the command line. Returns why it did not run.
    static func runPager(on path: String) -> String? {
        defer { unlink(path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec ${PAGER:-less} \"$1\"", "stagelink-pager", path]
        do {
            try process.run()
            process.waitUntilExit()
        } catch {
            return "cannot start the pager: \(error)"
        }
        // 126 and 127: the shell found no pager to run.
        return [126, 127].contains(process.terminationStatus) ? "no pager to run: set PAGER (less is not installed)" : nil
    }
}

/// A file beside the store could not be written.
struct HandoffError: Error, CustomStringConvertible {
    var path: String
    var reason: String

    var description: String { "cannot write \(path): \(reason)" }
}
