import StagelinkEngine

/// The `/` filter's small language for staged rows, and back.
///
/// Words are matched as free text (source id, object, error code and message, or the row id);
/// `key:value` words narrow by a column; a bare status word is a status; a leading `!` inverts.
///
/// | written | means |
/// |---|---|
/// | `failed` or `status:failed,held` | those statuses |
/// | `object:Patient` (`type:`) | that FHIR resource type or Salesforce object |
/// | `code:INVALID_FIELD` (`error:`) | that error code |
/// | `system:emr` / `system:sf` | rows from that system |
/// | `job:42` | rows staged by that job |
/// | `kind:deletion` / `kind:merge` | deletions or merges (`kind:record` for record versions) |
/// | `!…` | every row the rest does not match |
///
/// For example:
///
/// ```swift
/// RowFilterSyntax.parse("!failed object:Patient müller")
/// // RowFilter(statuses: [.failed], resourceType: "Patient", text: "müller", inverted: true)
/// ```
enum RowFilterSyntax {
    static func parse(_ text: String) -> RowFilter {
        var filter = RowFilter()
        var body = Substring(text.trimmingCharacters(in: .whitespaces))
        if body.hasPrefix("!") {
            filter.inverted = true
            body = body.dropFirst()
        }
        var words: [Substring] = []
        for word in body.split(separator: " ") {
            if let status = RowStatus(rawValue: word.lowercased()) {
                filter.statuses = (filter.statuses ?? []).union([status])
                continue
            }
            guard let colon = word.firstIndex(of: ":"), colon != word.startIndex else {
                words.append(word)
                continue
            }
            let key = word[..<colon].lowercased()
            let value = String(word[word.index(after: colon)...])
            switch key {
            case "status":
                let statuses = value.split(separator: ",").compactMap { RowStatus(rawValue: $0.lowercased()) }
                if statuses.isEmpty { words.append(word) } else { filter.statuses = (filter.statuses ?? []).union(statuses) }
            case "object", "type": filter.resourceType = value
            case "code", "error": filter.errorCode = value
            case "system":
                switch value.lowercased() {
                case "emr", "fhir": filter.system = .emr
                case "sf", "salesforce": filter.system = .salesforce
                default: words.append(word)
                }
            case "job":
                if let id = Int64(value) { filter.jobID = id } else { words.append(word) }
            case "kind":
                if let kind = RecordKind(rawValue: value.lowercased()) { filter.kind = kind } else { words.append(word) }
            default:
                words.append(word)
            }
        }
        if !words.isEmpty { filter.text = words.joined(separator: " ") }
        return filter
    }

    /// The filter as the person would type it: what the prompt starts with and the title shows.
    static func text(_ filter: RowFilter) -> String {
        var words: [String] = []
        if let statuses = filter.statuses {
            let names = RowStatus.allCases.filter(statuses.contains).map(\.rawValue)
            words.append(names.count == 1 ? names[0] : "status:" + names.joined(separator: ","))
        }
        if let system = filter.system { words.append("system:\(system == .emr ? "emr" : "sf")") }
        if let type = filter.resourceType { words.append("object:\(type)") }
        if let code = filter.errorCode { words.append("code:\(code)") }
        if let job = filter.jobID { words.append("job:\(job)") }
        if let kind = filter.kind { words.append("kind:\(kind.rawValue)") }
        if let text = filter.text, !text.isEmpty { words.append(text) }
        let joined = words.joined(separator: " ")
        return filter.inverted ? "!" + joined : joined
    }
}
