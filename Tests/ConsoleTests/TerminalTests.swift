import CNcursesw
import Foundation
import Glibc
import Testing

@testable import Console

/// The one layer that talks to ncurses, drawing off-screen into a terminal of /dev/null and
/// reading the cells back.
@MainActor
@Suite(.serialized, .timeLimit(.minutes(3)))
struct TerminalTests {
    /// A terminal that reads from and writes to /dev/null: ncurses draws, nothing is shown.
    private func offScreen(_ terminalType: String) throws -> Terminal {
        let output = open("/dev/null", O_WRONLY)
        let input = open("/dev/null", O_RDONLY)
        defer {
            close(output)
            close(input)
        }
        return try Terminal(terminalType: terminalType, inputDescriptor: input, outputDescriptor: output)
    }

    @Test func aScreenIsDrawnWithWideCharactersAttributesAndColourPairs() throws {
        let terminal = try offScreen("xterm-256color")
        defer { terminal.close() }
        terminal.resize(width: 40, height: 5)

        var screen = Screen(width: 40, height: 5)
        screen.write("王芳 Zoë", x: 0, y: 0, role: .body)
        screen.write("selected", x: 0, y: 1, role: .cursor)
        screen.write("\u{1b}[2J", x: 0, y: 2, role: .body)
        let theme = try ConsoleFixture.themes.theme(named: "dark")
        terminal.draw(screen, theme: theme)

        func cell(_ x: Int32, _ y: Int32) -> (text: String, attributes: attr_t, pair: Int16) {
            var cell = cchar_t()
            mvwin_wch(stagelink_stdscr(), y, x, &cell)
            var characters = [wchar_t](repeating: 0, count: 8)
            var attributes: attr_t = 0
            var pair: Int16 = 0
            getcchar(&cell, &characters, &attributes, &pair, nil)
            let text = String(String.UnicodeScalarView(characters.prefix { $0 != 0 }.compactMap { Unicode.Scalar(UInt32(bitPattern: $0)) }))
            return (text, attributes, pair)
        }
        #expect(cell(0, 0).text == "王")
        #expect(cell(2, 0).text == "芳")
        #expect(cell(5, 0).text == "Z" && cell(6, 0).text == "o" && cell(7, 0).text == "ë")
        #expect(cell(0, 1).text == "s")
        #expect(cell(0, 1).attributes & stagelink_attr_bold() != 0, "the dark theme's cursor is bold")
        #expect(cell(0, 1).pair != 0 && cell(0, 1).pair != cell(0, 0).pair)
        #expect((0..<7).map { cell(Int32($0), 2).text }.joined() == #"\u{1b}["#, "the escape arrives as text")
    }

    /// Home and End as PuTTY, the Linux console, rxvt, tmux and xterm send them, and the page
    /// keys: each is one key, never Esc followed by letters that would back out of a view.
    @Test(arguments: ["xterm-256color", "screen", "tmux-256color", "linux", "vt100", "rxvt"])
    func homeEndAndPageKeysAreOneKeyInEveryEscapeFormCommonTerminalsSend(terminalType: String) throws {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        let sequences: [(String, Key)] = [
            ("\u{1b}[1~", .home), ("\u{1b}[4~", .end), ("\u{1b}[H", .home), ("\u{1b}[F", .end), ("\u{1b}[7~", .home), ("\u{1b}[8~", .end),
            ("\u{1b}OH", .home), ("\u{1b}OF", .end), ("\u{1b}[5~", .pageUp), ("\u{1b}[6~", .pageDown),
        ]
        let typed = sequences.map { $0.0 + "x" }.joined()
        _ = typed.utf8CString.withUnsafeBufferPointer { write(ends[1], $0.baseAddress, typed.utf8.count) }
        close(ends[1])
        let output = open("/dev/null", O_WRONLY)
        defer {
            close(output)
            close(ends[0])
        }
        let terminal = try Terminal(terminalType: terminalType, inputDescriptor: ends[0], outputDescriptor: output)
        defer { terminal.close() }
        var keys: [Key] = []
        while let input = terminal.read(), keys.count < 40 {
            if case .key(let key) = input { keys.append(key) }
        }
        #expect(keys == sequences.flatMap { [$0.1, .character("x")] })
    }

    @Test func anUnknownTerminalTypeIsAClearError() throws {
        #expect {
            _ = try offScreen("no-such-terminal")
        } throws: { error in
            "\(error)" == "TERM=no-such-terminal is not a terminal type this system knows (try TERM=xterm-256color)"
        }
    }
}
