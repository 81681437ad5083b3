import Foundation

/// A line of text in several roles: `service ` muted, `● running` ok, ` since 10:02` muted.
///
/// For example:
///
/// ```swift
/// let line: StyledLine = [Span("service ", .muted), Span("● running", .ok)]
/// screen.write(line, x: 1, y: 0)
/// ```
struct StyledLine: Hashable, ExpressibleByArrayLiteral {
    var spans: [Span]

    init(_ spans: [Span] = []) {
        self.spans = spans
    }

    init(arrayLiteral spans: Span...) {
        self.spans = spans
    }

    init(_ text: String, _ role: Role = .body) {
        spans = [Span(text, role)]
    }

    mutating func append(_ text: String, _ role: Role = .body) {
        spans.append(Span(text, role))
    }

    static func + (lhs: StyledLine, rhs: StyledLine) -> StyledLine { StyledLine(lhs.spans + rhs.spans) }

    /// Columns the line takes once escaped.
    var width: Int { spans.reduce(0) { $0 + DisplayWidth.of(SafeText.escaped($1.text)) } }

    var plainText: String { spans.map(\.text).joined() }

    /// Where `term` occurs in the text, ignoring case and accents (`muller` finds Müller), as
    /// character offsets.
    func occurrences(of term: String) -> [Range<Int>] {
        guard !term.isEmpty else { return [] }
        let text = plainText
        var found: [Range<Int>] = []
        var start = text.startIndex
        while start < text.endIndex, let range = text.range(of: term, options: [.caseInsensitive, .diacriticInsensitive], range: start..<text.endIndex) {
            found.append(text.distance(from: text.startIndex, to: range.lowerBound)..<text.distance(from: text.startIndex, to: range.upperBound))
            start = range.upperBound
        }
        return found
    }

    /// The line with every occurrence of `term` drawn in `role`, the rest as it was.
    func marking(_ term: String, as role: Role) -> StyledLine {
        let found = occurrences(of: term)
        guard !found.isEmpty else { return self }
        var marked = StyledLine()
        var index = 0
        for span in spans {
            for character in span.text {
                let characterRole = found.contains { $0.contains(index) } ? role : span.role
                if marked.spans.last?.role == characterRole {
                    marked.spans[marked.spans.count - 1].text.append(character)
                } else {
                    marked.append(String(character), characterRole)
                }
                index += 1
            }
        }
        return marked
    }

    /// A view's title as k9s writes it: `Staged(failed)[1,204]`, the filter only when there is one.
    static func viewTitle(_ name: String, filter: String, count: String) -> StyledLine {
        StyledLine(name + (filter.isEmpty ? "" : "(\(filter))") + "[\(count)]", .title)
    }
}

/// Text in one role.
struct Span: Hashable {
    var text: String
    var role: Role

    init(_ text: String, _ role: Role = .body) {
        self.text = text
        self.role = role
    }
}
