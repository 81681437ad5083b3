import Foundation
import StagelinkEngine

/// Every line a `stagelink` command prints: through `DisplayText.escaped`, the one function that
/// decides what may reach a terminal, so that a payload, a remote error body, an id or an
/// operator's note holding `ESC [2J`, BEL, a C1 control, a bidirectional override or a line
/// separator is shown escaped, never obeyed.
///
/// It shadows `Swift.print` for text inside this executable, so a command cannot print around
/// it by forgetting to escape; line breaks and tabs the command itself writes are kept.
/// (`JSONOutput` prints JSON through `DisplayText.escapedJSON` instead.)
///
/// For example:
///
/// ```swift
/// print("Row \(row.id): \(row.error!.message)")   // "Row 7: bad \u{1b}[2J value"
/// ```
func print(_ text: String, terminator: String = "\n") {
    Swift.print(DisplayText.escaped(text, keepingLineBreaks: true), terminator: terminator)
}

/// The same for standard error: what the process says when it stops with an error.
func printToStandardError(_ text: String) {
    FileHandle.standardError.write(Data((DisplayText.escaped(text, keepingLineBreaks: true) + "\n").utf8))
}
