import CNcursesw
import Glibc

/// The only code that talks to ncurses: it starts and restores the terminal (on a crash too, see
/// `CrashRescue`), draws a screen model (only the rows that changed), turns the theme into colour
/// pairs, and decodes keys.
///
/// Everything runs on the main actor: ncurses has one global current screen and its windows are
/// not thread-safe.
@MainActor
final class Terminal {
    /// A key, or the terminal's size changing.
    enum Input: Equatable {
        case key(Key)
        case resize
    }

    private let screen: OpaquePointer
    private let window: UnsafeMutablePointer<WINDOW>
    private let output: UnsafeMutablePointer<FILE>
    private let input: UnsafeMutablePointer<FILE>
    private var styles: [Role: (attributes: attr_t, pair: Int16)] = [:]
    private var theme: Theme?
    /// The frame on the terminal now, to draw only the rows that differ.
    private var shown: Screen?
    private var isOpen = true

    /// Starts curses on the given descriptors (the process's terminal by default).
    ///
    /// A `TERM` the system does not know, or a locale that is not UTF-8, is an error with a clear
    /// message rather than a garbled screen: without UTF-8, names like Zoë and 王芳 lose letters.
    init(terminalType: String? = nil, inputDescriptor: Int32 = STDIN_FILENO, outputDescriptor: Int32 = STDOUT_FILENO) throws(TerminalError) {
        try Self.useUTF8Locale()
        guard isatty(inputDescriptor) == 1 || terminalType != nil else {
            throw TerminalError("the console needs a terminal: standard input is not one (run it in a terminal, not through a pipe)")
        }
        if isatty(inputDescriptor) == 1 { CrashRescue.install(terminal: inputDescriptor) }
        guard let output = fdopen(dup(outputDescriptor), "w"), let input = fdopen(dup(inputDescriptor), "r") else {
            CrashRescue.remove()
            throw TerminalError("cannot open the terminal: \(String(cString: strerror(errno)))")
        }
        guard let screen = newterm(terminalType, output, input) else {
            fclose(output)
            fclose(input)
            CrashRescue.remove()
            let name = terminalType ?? getenv("TERM").map { String(cString: $0) } ?? "(unset)"
            throw TerminalError("TERM=\(name) is not a terminal type this system knows (try TERM=xterm-256color)")
        }
        self.screen = screen
        self.output = output
        self.input = input
        set_term(screen)
        window = stagelink_stdscr()
        cbreak()
        noecho()
        nonl()
        keypad(window, true)
        nodelay(window, true)
        set_escdelay(25)
        Self.defineKeyVariants()
        curs_set(0)
        if has_colors() {
            start_color()
            use_default_colors()
        }
    }

    /// Without a UTF-8 locale ncurses drops every non-ASCII letter: take the environment's, and
    /// fall back to C.UTF-8, which every Debian has.
    private static func useUTF8Locale() throws(TerminalError) {
        setlocale(LC_ALL, "")
        if isUTF8 { return }
        setlocale(LC_CTYPE, "C.UTF-8")
        guard isUTF8 else {
            throw TerminalError("the console needs a UTF-8 locale to show names like Zoë and 王芳 (set LANG=C.UTF-8)")
        }
    }

    private static var isUTF8: Bool {
        let codeset = String(cString: stagelink_codeset()).uppercased()
        return codeset == "UTF-8" || codeset == "UTF8"
    }

    var width: Int { Int(getmaxx(window)) }
    var height: Int { Int(getmaxy(window)) }

    /// Ends curses and gives the terminal back as it was. Safe to call twice.
    func close() {
        guard isOpen else { return }
        isOpen = false
        curs_set(1)
        endwin()
        CrashRescue.remove()
        delscreen(screen)
        fclose(output)
        fclose(input)
    }

    // MARK: - Size

    /// Takes the terminal's new size after SIGWINCH; the next draw repaints everything.
    func adoptNewSize() {
        var rows: Int32 = 0
        var columns: Int32 = 0
        guard stagelink_window_size(fileno(output), &rows, &columns) == 0, rows > 0, columns > 0 else { return }
        resize(width: Int(columns), height: Int(rows))
    }

    /// Sets the size curses draws for (the new size after SIGWINCH, or a test's off-screen size).
    func resize(width: Int, height: Int) {
        resize_term(Int32(height), Int32(width))
        wclear(window)
        shown = nil
    }

    /// Repaints everything on the next draw (ctrl-l, or after another program wrote to the terminal).
    func invalidate() {
        wclear(window)
        shown = nil
    }

    // MARK: - Drawing

    func draw(_ frame: Screen, theme: Theme) {
        if theme != self.theme { use(theme) }
        if let shown, shown.width != frame.width || shown.height != frame.height { self.shown = nil }
        let height = min(frame.height, self.height)
        let width = min(frame.width, self.width)
        for y in 0..<height where shown.map({ !Self.row(y, of: $0, equals: frame) }) ?? true {
            draw(row: y, of: frame, width: width)
        }
        shown = frame
        if let cursor = frame.cursor {
            curs_set(1)
            wmove(window, Int32(cursor.y), Int32(cursor.x))
        } else {
            curs_set(0)
        }
        wrefresh(window)
    }

    private static func row(_ y: Int, of old: Screen, equals new: Screen) -> Bool {
        let start = y * new.width
        return old.cells[start..<start + new.width] == new.cells[start..<start + new.width]
    }

    private func draw(row y: Int, of frame: Screen, width: Int) {
        var cell = cchar_t()
        var characters = [wchar_t](repeating: 0, count: Int(CCHARW_MAX) + 1)
        for x in 0..<width {
            let content = frame[x, y]
            if content.isContinuation { continue }
            let style = styles[content.role] ?? (0, 0)
            var count = 0
            for scalar in content.character.unicodeScalars where count < Int(CCHARW_MAX) {
                characters[count] = wchar_t(bitPattern: scalar.value)
                count += 1
            }
            characters[count] = 0
            setcchar(&cell, characters, style.attributes, style.pair, nil)
            mvwadd_wch(window, Int32(y), Int32(x), &cell)
        }
    }

    /// Turns the theme's roles into colour pairs and attributes for this terminal's colours.
    private func use(_ theme: Theme) {
        self.theme = theme
        shown = nil
        styles.removeAll()
        let colours = has_colors() ? Int(stagelink_colors()) : 0
        let effective = colours >= 8 ? theme : theme.withoutColour()
        var pairs: [[Int]: Int16] = [:]
        for role in Role.allCases {
            let style = effective.style(for: role)
            var pair: Int16 = 0
            let colour = [TerminalColors.index(for: style.foreground, available: colours), TerminalColors.index(for: style.background, available: colours)]
            if colours >= 8 && colour != [-1, -1] {
                if let existing = pairs[colour] {
                    pair = existing
                } else if pairs.count + 1 < Int(stagelink_color_pairs()) {
                    pair = Int16(pairs.count + 1)
                    init_pair(pair, Int16(colour[0]), Int16(colour[1]))
                    pairs[colour] = pair
                }
            }
            styles[role] = (Self.attributes(style.attributes), pair)
        }
    }

    private static func attributes(_ attributes: Set<TextAttribute>) -> attr_t {
        attributes.reduce(attr_t(0)) { value, attribute in
            switch attribute {
            case .bold: value | stagelink_attr_bold()
            case .dim: value | stagelink_attr_dim()
            case .italic: value | stagelink_attr_italic()
            case .underline: value | stagelink_attr_underline()
            case .reverse: value | stagelink_attr_reverse()
            }
        }
    }

    // MARK: - Handing the terminal over

    /// Writes a sequence for the terminal itself (OSC 52), not for the screen. Only the console's
    /// own sequences come here: `TerminalHandoff` encodes whatever they carry.
    func send(_ sequence: String) {
        fputs(sequence, output)
        fflush(output)
    }

    /// Gives the terminal back while `work` runs (a pager), then takes it again and repaints.
    func suspended<T>(_ work: () -> T) -> T {
        def_prog_mode()
        endwin()
        let result = work()
        reset_prog_mode()
        invalidate()
        return result
    }

    // MARK: - Keys

    /// The escape sequences common terminals send for Home, End and the page keys that the
    /// terminal type's terminfo entry may not name (PuTTY and the Linux console send `\e[1~` and
    /// `\e[4~`, rxvt `\e[7~` and `\e[8~`, xterm in its two cursor modes `\e[H`/`\eOH`):
    /// without them ncurses hands the sequence over as Esc and letters, and Home backs out of a
    /// view. Defining a sequence terminfo already names is harmless.
    static let keyVariants: [(sequence: String, code: Int32)] = [
        ("\u{1b}[1~", KEY_HOME), ("\u{1b}[7~", KEY_HOME), ("\u{1b}[H", KEY_HOME), ("\u{1b}OH", KEY_HOME),
        ("\u{1b}[4~", KEY_END), ("\u{1b}[8~", KEY_END), ("\u{1b}[F", KEY_END), ("\u{1b}OF", KEY_END),
        ("\u{1b}[5~", KEY_PPAGE), ("\u{1b}[6~", KEY_NPAGE),
    ]

    private static func defineKeyVariants() {
        for variant in keyVariants where key_defined(variant.sequence) != variant.code {
            define_key(variant.sequence, variant.code)
        }
    }

    /// The next key typed, or nil when none is waiting.
    func read() -> Input? {
        var character: wint_t = 0
        let result = wget_wch(window, &character)
        if result == KEY_CODE_YES { return Self.decode(keyCode: Int32(character)) }
        if result == OK { return Self.decode(character: UInt32(character)) }
        return nil
    }

    private static func decode(keyCode: Int32) -> Input? {
        switch keyCode {
        case KEY_RESIZE: .resize
        case KEY_UP: .key(.up)
        case KEY_DOWN: .key(.down)
        case KEY_LEFT: .key(.left)
        case KEY_RIGHT: .key(.right)
        case KEY_PPAGE: .key(.pageUp)
        case KEY_NPAGE: .key(.pageDown)
        case KEY_HOME: .key(.home)
        case KEY_END: .key(.end)
        case KEY_BACKSPACE: .key(.backspace)
        case KEY_DC: .key(.delete)
        case KEY_BTAB: .key(.backTab)
        case KEY_ENTER: .key(.enter)
        default: nil
        }
    }

    private static func decode(character value: UInt32) -> Input? {
        switch value {
        case 0x0A, 0x0D: return .key(.enter)
        case 0x1B: return .key(.escape)
        case 0x09: return .key(.tab)
        case 0x08, 0x7F: return .key(.backspace)
        case 0x01...0x1A: return .key(.control(Character(Unicode.Scalar(value + 0x60) ?? "?")))
        case 0x20...:
            guard let scalar = Unicode.Scalar(value), !(0x7F..<0xA0).contains(value) else { return nil }
            return .key(.character(Character(scalar)))
        default: return nil
        }
    }
}
