/// Colours a pretty-printed JSON line by part: the key, then a string, number or literal value.
///
/// The line comes from `JSONWriter.prettyLines`, which has already escaped every control
/// character, so only the shape needs reading here: indent, an optional `"key": `, a value.
enum JSONLineStyle {
    static func styled(_ text: String) -> StyledLine {
        var line = StyledLine()
        var rest = Substring(text)
        let indent = rest.prefix { $0 == " " }
        if !indent.isEmpty { line.append(String(indent)) }
        rest = rest.dropFirst(indent.count)
        if rest.first == "\"", let end = closingQuote(in: rest), rest[end...].hasPrefix("\": ") {
            let keyEnd = rest.index(after: end)
            line.append(String(rest[..<keyEnd]), .jsonKey)
            line.append(": ", .muted)
            rest = rest[rest.index(keyEnd, offsetBy: 2)...]
        }
        var value = rest
        var trailer = ""
        if value.hasSuffix(",") {
            value = value.dropLast()
            trailer = ","
        }
        let role: Role =
            switch value.first {
            case "\"": .jsonString
            case "t", "f", "n": .jsonLiteral
            case "{", "[", "}", "]", nil: .muted
            default: .jsonNumber
            }
        if !value.isEmpty { line.append(String(value), role) }
        if !trailer.isEmpty { line.append(trailer, .muted) }
        return line
    }

    /// The index of the quote that closes the string opening `text`, skipping escaped quotes.
    private static func closingQuote(in text: Substring) -> Substring.Index? {
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            switch text[index] {
            case "\\":
                index = text.index(after: index)
                if index < text.endIndex { index = text.index(after: index) }
            case "\"":
                return index
            default:
                index = text.index(after: index)
            }
        }
        return nil
    }
}
