/// One character cell of the screen: what it shows and what it is.
///
/// A wide character (王) takes its cell and the next; the next is a continuation, which shows
/// nothing of its own.
public struct Cell: Sendable, Hashable {
    public var character: Character
    public var role: Role
    /// The right half of a wide character.
    public var isContinuation: Bool

    public init(character: Character = " ", role: Role = .body, isContinuation: Bool = false) {
        self.character = character
        self.role = role
        self.isContinuation = isContinuation
    }

    public static let blank = Cell()
}

/// A cell's position on the screen, from the top left.
public struct Point: Sendable, Hashable {
    public var x: Int
    public var y: Int

    public init(x: Int, y: Int) {
        self.x = x
        self.y = y
    }
}

/// A position or area on the screen, in cells, from the top left.
public struct Rect: Sendable, Hashable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = max(0, width)
        self.height = max(0, height)
    }

    public var maxX: Int { x + width }
    public var maxY: Int { y + height }

    /// This area less `amount` cells on every side.
    func inset(by amount: Int) -> Rect {
        Rect(x: x + amount, y: y + amount, width: width - 2 * amount, height: height - 2 * amount)
    }

    /// The top `rows` rows, and the rest below them.
    func splitTop(_ rows: Int) -> (top: Rect, rest: Rect) {
        let top = min(max(0, rows), height)
        return (Rect(x: x, y: y, width: width, height: top), Rect(x: x, y: y + top, width: width, height: height - top))
    }

    /// The left `columns` columns, and the rest to their right.
    func splitLeft(_ columns: Int) -> (left: Rect, rest: Rect) {
        let left = min(max(0, columns), width)
        return (Rect(x: x, y: y, width: left, height: height), Rect(x: x + left, y: y, width: width - left, height: height))
    }

    func row(_ offset: Int) -> Rect { Rect(x: x, y: y + offset, width: width, height: 1) }
}

/// The whole terminal as cells and roles: what the views draw into and the tests read.
///
/// Only this type puts text into cells, and it escapes control characters on the way in
/// (see `SafeText`), so no view can send an escape sequence from a payload to the terminal.
///
/// For example:
///
/// ```swift
/// var screen = Screen(width: 80, height: 24)
/// screen.write("王芳", x: 0, y: 0, role: .body)   // four cells: 王, continuation, 芳, continuation
/// screen.text(row: 0)                            // "王芳" followed by spaces
/// ```
public struct Screen: Sendable, Hashable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]
    /// Where the terminal's cursor should blink (in a prompt); hidden when nil.
    public var cursor: Point?

    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: .blank, count: self.width * self.height)
    }

    public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set { cells[y * width + x] = newValue }
    }

    /// The text of a row as a person reads it: wide characters once, continuations skipped.
    public func text(row y: Int) -> String {
        var text = ""
        for x in 0..<width where !self[x, y].isContinuation { text.append(self[x, y].character) }
        return text
    }

    /// Every row's text, joined by newlines, with trailing spaces trimmed.
    public var text: String {
        (0..<height).map { row in
            var line = text(row: row)
            while line.last == " " { line.removeLast() }
            return line
        }.joined(separator: "\n")
    }

    /// The column of the first cell of `text` in row `y`, or nil.
    public func column(of text: String, row y: Int) -> Int? {
        let line = self.text(row: y)
        guard let range = line.range(of: text) else { return nil }
        var column = 0
        for character in line[..<range.lowerBound] { column += DisplayWidth.of(character) }
        return column
    }

    /// The first row whose text contains `text`, or nil.
    public func row(containing text: String) -> Int? {
        (0..<height).first { self.text(row: $0).contains(text) }
    }

    // MARK: - Drawing

    /// Fills an area with one character in one role.
    mutating func fill(_ rect: Rect, role: Role, character: Character = " ") {
        let clipped = clip(rect)
        for y in clipped.y..<clipped.maxY {
            for x in clipped.x..<clipped.maxX { self[x, y] = Cell(character: character, role: role) }
        }
    }

    /// Gives every cell of an area a role, keeping its character (the cursor row, a highlight).
    mutating func restyle(_ rect: Rect, role: Role) {
        let clipped = clip(rect)
        for y in clipped.y..<clipped.maxY {
            for x in clipped.x..<clipped.maxX { self[x, y].role = role }
        }
    }

    /// Writes `text` from column `x` of row `y`, in no more than `limit` columns (to the right edge
    /// by default). Text that does not fit ends in `…`. Control characters are written as their
    /// escapes, in the `escaped` role. Returns the column after the last cell written.
    @discardableResult
    mutating func write(_ text: String, x: Int, y: Int, role: Role, limit: Int? = nil) -> Int {
        let end = min(width, limit.map { x + max(0, $0) } ?? width)
        guard y >= 0, y < height, x < end else { return x }
        var glyphs: [(character: Character, width: Int, role: Role)] = []
        var total = 0
        // Reading stops one glyph past the edge: enough to know that the text was cut.
        pieces: for piece in SafeText.pieces(text) {
            switch piece {
            case .text(let run):
                for character in run {
                    let columns = DisplayWidth.of(character)
                    glyphs.append((character, columns, role))
                    total += columns
                    if x + total > end { break pieces }
                }
            case .escape(let escape):
                for character in escape { glyphs.append((character, 1, role == .cursor ? role : .escaped)) }
                total += escape.count
                if x + total > end { break pieces }
            }
        }
        let room = end - max(0, x)
        let truncated = total > room
        var column = x
        let stop = truncated ? end - 1 : end
        for glyph in glyphs {
            guard column + glyph.width <= stop else { break }
            if column >= 0 { put(glyph.character, width: glyph.width, x: column, y: y, role: glyph.role) }
            column += glyph.width
        }
        if truncated && column < end {
            put("…", width: 1, x: column, y: y, role: role)
            column += 1
        }
        return column
    }

    /// Writes styled spans one after another; returns the column after the last. A line cut short
    /// ends in `…`, whichever span the cut falls in.
    @discardableResult
    mutating func write(_ line: StyledLine, x: Int, y: Int, limit: Int? = nil) -> Int {
        let end = min(width, limit.map { x + $0 } ?? width)
        var column = x
        for (index, span) in line.spans.enumerated() {
            guard column < end else {
                let rest = line.spans[index...].contains { !$0.text.isEmpty }
                if rest && end > x && y >= 0 && y < height { put("…", width: 1, x: end - 1, y: y, role: self[end - 1, y].role) }
                break
            }
            column = write(span.text, x: column, y: y, role: span.role, limit: end - column)
        }
        return column
    }

    private mutating func put(_ character: Character, width columns: Int, x: Int, y: Int, role: Role) {
        // Overwriting half of a wide character blanks its other half.
        if self[x, y].isContinuation && x > 0 { self[x - 1, y] = Cell(character: " ", role: self[x - 1, y].role) }
        if columns == 2, x + 1 < width, x + 2 < width, self[x + 2, y].isContinuation {
            self[x + 2, y] = Cell(character: " ", role: self[x + 2, y].role)
        }
        self[x, y] = Cell(character: character, role: role)
        if columns == 2 && x + 1 < width { self[x + 1, y] = Cell(character: " ", role: role, isContinuation: true) }
    }

    private func clip(_ rect: Rect) -> Rect {
        let x = max(0, rect.x)
        let y = max(0, rect.y)
        return Rect(x: x, y: y, width: min(width, rect.maxX) - x, height: min(height, rect.maxY) - y)
    }
}

extension Screen: CustomStringConvertible {
    /// The screen's text, row by row: what a failed test shows.
    public var description: String { text }
}
