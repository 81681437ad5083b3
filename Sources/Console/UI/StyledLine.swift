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
