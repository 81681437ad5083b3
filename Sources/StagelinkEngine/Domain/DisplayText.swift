/// Text from outside (payloads, names, error bodies) made safe to show on a terminal.
///
/// Control characters and escape sequences are shown, never obeyed: a patient name holding
/// `ESC ]0;…` or `ESC [2J` is printed as `\u{1b}]0;…`, so it can neither retitle the window nor
/// clear the screen. C1 controls (U+0080–U+009F), which some terminals also obey, are escaped too,
/// and so are the characters that reorder or break what is around them without being seen: the
/// bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E–U+200F, U+202A–U+202E,
/// U+2066–U+2069) and the line and paragraph separators (U+2028, U+2029).
///
/// This is the one place that decides what may reach a terminal: the console (`SafeText`), the
/// CLI's every printed line and its `--json` output all ask it.
///
/// For example:
///
/// ```swift
/// DisplayText.escaped("Zoë\u{1B}[2J")   // "Zoë\u{1b}[2J" — the backslash form, visibly
/// ```
public enum DisplayText {
    /// The text with every control character replaced by a visible `\u{…}` escape; newlines and
    /// tabs too unless `keepingLineBreaks`.
    public static func escaped(_ text: String, keepingLineBreaks: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: { isControl($0) }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if keepingLineBreaks && (scalar == "\n" || scalar == "\t") {
                out.append(scalar)
            } else if isControl(scalar) {
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16))}".unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// Whether a terminal must be shown `scalar` escaped rather than receive it.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        return value < 0x20 || (0x7F...0x9F).contains(value) || value == 0x2028 || value == 0x2029
            || (0x202A...0x202E).contains(value) || (0x2066...0x2069).contains(value)
            || value == 0x200E || value == 0x200F || value == 0x061C
    }

    /// JSON text made as safe for a terminal as `escaped` makes plain text, and still the same
    /// JSON: every unsafe character outside ASCII (C1, bidirectional controls, separators) becomes
    /// its `\uXXXX` escape. (C0 controls inside strings are already escaped by any JSON writer;
    /// those outside strings are the JSON's own line breaks.)
    public static func escapedJSON(_ json: String) -> String {
        guard json.unicodeScalars.contains(where: { $0.value >= 0x7F && isControl($0) }) else { return json }
        var out = String.UnicodeScalarView()
        for scalar in json.unicodeScalars {
            if scalar.value >= 0x7F && isControl(scalar) {
                let hex = String(scalar.value, radix: 16)
                out.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// Columns a string takes on a terminal: wide (East Asian, emoji) characters take two,
    /// combining marks none.
    public static func width(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { $0 + width(of: $1) }
    }

    public static func width(of scalar: Unicode.Scalar) -> Int {
        let value = scalar.value
        if value < 0x20 || (0x7F..<0xA0).contains(value) { return 0 }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        if value == 0x200B { return 0 }
        let wide: [ClosedRange<UInt32>] = [
            0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF, 0xAC00...0xD7A3,
            0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD,
        ]
        return wide.contains { $0.contains(value) } ? 2 : 1
    }

    /// The text cut to fit `columns` (with `…` when cut) and padded with spaces to exactly that width.
    public static func fit(_ text: String, columns: Int) -> String {
        guard columns > 0 else { return "" }
        var used = 0
        var out = String.UnicodeScalarView()
        let total = width(text)
        let limit = total > columns ? columns - 1 : columns
        for scalar in text.unicodeScalars {
            let w = width(of: scalar)
            if used + w > limit { break }
            out.append(scalar)
            used += w
        }
        if total > columns {
            out.append("…")
            used += 1
        }
        return String(out) + String(repeating: " ", count: max(0, columns - used))
    }
}
