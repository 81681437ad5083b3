/// A FHIR search of one type: `_id`, `_lastUpdated` (with prefixes), `identifier`, `patient`, `subject`,
/// `url`, `_count`, `_sort`, `_summary=count` and `_elements`. Any other parameter is refused, never ignored, unless the
/// profile ignores unknown parameters (`lenient`); `applied` lists what the search used, for `Bundle.link[self]`.
struct FHIRSearch: Sendable {
    var type: String
    var count = FHIRSearch.defaultCount
    /// The parameters the search applied, in order: what `Bundle.link[self]` reports.
    var applied: [(String, String)] = []
    var sortDescending: Bool?
    var sortByID = false
    var summaryCount = false
    /// `_elements`: the top-level elements each resource is cut down to (see ``subset(_:elements:)``).
    var elements: [String]?
    /// The identifier values the search asks for when every alternative of its `identifier`
    /// names a value (`system|value` or `value`): only resources carrying one of them can match,
    /// which the store finds in its index (``EMRStore/candidates(_:for:)``). Nil otherwise.
    private(set) var identifierValues: [String]?
    private var filters: [@Sendable (FHIRResourceEntry) -> Bool] = []

    static let maximumCount = 1000
    /// The page size when `_count` is absent.
    static let defaultCount = 50
    private static let ignored: Set<String> = ["_format", "_pretty", "_total"]

    private static let referenceParameters: [String: [String: String]] = [
        "patient": ["EpisodeOfCare": "patient", "QuestionnaireResponse": "subject", "ServiceRequest": "subject"],
        "subject": ["QuestionnaireResponse": "subject", "ServiceRequest": "subject"],
    ]

    /// - Parameter ignoringUnknown: whether parameters the server does not know are dropped (left
    ///   out of `applied`) instead of refused; the profile's default unless the client's
    ///   `Prefer: handling` asked otherwise (``EMRProfile/unknownParameters(prefer:)``).
    init(type: String, parameters: [(String, String)], profile: EMRProfile = .generic, ignoringUnknown: Bool? = nil) throws(FHIRError) {
        self.type = type
        let ignoringUnknown = ignoringUnknown ?? profile.ignoresUnknownParameters
        if profile.refuses(searchOf: type, parameterNames: Set(parameters.map(\.0))) { throw EMRProfile.tooCostly(type) }
        for (name, value) in parameters {
            switch name {
            case _ where Self.ignored.contains(name): continue
            case "_count":
                guard let number = Int(value), number >= 0 else { throw .invalid("_count", "must be a whole number") }
                count = min(number, profile.maximumPageSize)
                applied.append((name, String(count)))
                continue
            case "_sort" where profile.ignoresSort: continue
            case "_sort":
                switch value {
                case "_lastUpdated": sortDescending = false
                case "-_lastUpdated": sortDescending = true
                case "_id": sortByID = true
                default: throw .processing("_sort supports _lastUpdated, -_lastUpdated and _id")
                }
            case "_elements":
                let names = value.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
                guard !names.isEmpty, names.allSatisfy({ name in name.allSatisfy { $0.isLetter || $0.isNumber } }) else {
                    throw .invalid("_elements", "must list element names, separated by commas")
                }
                elements = names
            case "_summary":
                guard value == "count" else { throw .processing("_summary supports count") }
                summaryCount = true
            case "_id":
                let ids = Set(value.split(separator: ",").map(String.init))
                filters.append { ids.contains($0.resource["id"]?.stringValue ?? "") }
            case "_lastUpdated":
                let condition = try Self.lastUpdated(value)
                filters.append { condition($0.lastUpdated) }
            case "identifier":
                let alternatives = value.split(separator: ",").map(String.init)
                let values = alternatives.map { token in token.firstIndex(of: "|").map { String(token[token.index(after: $0)...]) } ?? token }
                if !values.isEmpty, !values.contains(""), identifierValues == nil { identifierValues = values }
                filters.append { entry in alternatives.contains { Self.identifier($0, matches: entry.resource) } }
            case "url" where type == "Questionnaire":
                filters.append { $0.resource["url"]?.stringValue == value }
            case _ where Self.referenceParameters[name]?[type] != nil:
                let element = Self.referenceParameters[name]![type]!
                let wanted = Self.patientID(value)
                filters.append { entry in
                    entry.resource[element]?["reference"]?.stringValue.map(Self.patientID) == wanted
                }
            default:
                if ignoringUnknown { continue }
                throw .processing("Unknown search parameter \"\(name)\" for resource type \"\(type)\"")
            }
            applied.append((name, value))
        }
    }

    /// A resource cut down to `elements` for `_elements` (FHIR R4 search.html §3.1.1.5.9): the listed
    /// top-level elements "plus mandatory elements" (`resourceType`, `id`, `meta`), with `meta.tag`
    /// gaining the `SUBSETTED` code of `http://terminology.hl7.org/CodeSystem/v3-ObservationValue`,
    /// which marks a resource that "is not the full resource" and must not be used to update it.
    /// Oracle Health Data Repository's FHIR guide ("Elements Parameter") answers the same way and
    /// carries `_elements` in the Bundle's `next` link, as ``FHIRRoutes`` does.
    static func subset(_ resource: WireObject, elements: [String]) -> WireObject {
        var cut = WireObject()
        for key in resource.keys where key == "resourceType" || key == "id" || key == "meta" || elements.contains(key) {
            cut[key] = resource[key]
        }
        var meta = cut["meta"]?.objectValue ?? WireObject()
        var tags = meta["tag"]?.arrayValue ?? []
        tags.append(["system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"])
        meta["tag"] = .array(tags)
        cut["meta"] = .object(meta)
        return cut
    }

    /// `Patient/123`, `123` or `http://…/Patient/123` → `123`.
    static func patientID(_ reference: String) -> String {
        reference.split(separator: "/").last.map(String.init) ?? reference
    }

    static func identifier(_ token: String, matches resource: WireObject) -> Bool {
        let identifiers = resource["identifier"]?.arrayValue ?? []
        let system: String?
        let value: String?
        if let bar = token.firstIndex(of: "|") {
            system = String(token[..<bar])
            let rest = String(token[token.index(after: bar)...])
            value = rest.isEmpty ? nil : rest
        } else {
            system = nil
            value = token
        }
        return identifiers.contains { identifier in
            let idSystem = identifier["system"]?.stringValue
            let idValue = identifier["value"]?.stringValue
            if let system {
                if system.isEmpty ? idSystem != nil : idSystem != system { return false }
            }
            if let value, idValue != value { return false }
            return true
        }
    }

    /// The condition of a `_lastUpdated` value: a prefix (eq, ne, gt, ge, lt, le) and a date or instant whose
    /// precision makes the range it stands for.
    static func lastUpdated(_ value: String) throws(FHIRError) -> @Sendable (SandboxInstant) -> Bool {
        var prefix = "eq"
        var text = Substring(value)
        if let first = value.first, first.isLetter {
            prefix = String(value.prefix(2))
            text = value.dropFirst(2)
        }
        guard let (low, high) = range(String(text)) else {
            throw .invalid("_lastUpdated", "is not a valid date or instant")
        }
        switch prefix {
        case "eq": return { $0 >= low && $0 < high }
        case "ne": return { $0 < low || $0 >= high }
        case "gt": return { $0 >= high }
        case "ge": return { $0 >= low }
        case "lt": return { $0 < low }
        case "le": return { $0 < high }
        default: throw .invalid("_lastUpdated", "has an unknown prefix")
        }
    }

    /// The instants a date or date-time stands for, low inclusive, high exclusive.
    static func range(_ text: String) -> (SandboxInstant, SandboxInstant)? {
        if let instant = SandboxInstant(iso8601: text) {
            let fraction = text.split(separator: ".").dropFirst().first.map { $0.prefix { $0.isNumber }.count } ?? 0
            let width: Int64 = fraction >= 3 ? 1 : (fraction == 2 ? 10 : (fraction == 1 ? 100 : 1000))
            return (instant, SandboxInstant(milliseconds: instant.milliseconds + width))
        }
        let day: Int64 = 86_400_000
        switch text.count {
        case 10:
            guard let date = CivilDate(text) else { return nil }
            let start = Int64(date.daysSince1970) * day
            return (SandboxInstant(milliseconds: start), SandboxInstant(milliseconds: start + day))
        case 7:
            guard let date = CivilDate(text + "-01") else { return nil }
            let start = Int64(date.daysSince1970) * day
            let days = Int64(CivilDate.daysIn(month: date.month, year: date.year))
            return (SandboxInstant(milliseconds: start), SandboxInstant(milliseconds: start + days * day))
        case 4:
            guard let year = Int(text), let first = CivilDate(year: year, month: 1, day: 1),
                let next = CivilDate(year: year + 1, month: 1, day: 1)
            else { return nil }
            return (
                SandboxInstant(milliseconds: Int64(first.daysSince1970) * day),
                SandboxInstant(milliseconds: Int64(next.daysSince1970) * day)
            )
        default:
            return nil
        }
    }

    /// The matching ids, in the order asked for.
    func run(_ entries: [FHIRResourceEntry]) -> [String] {
        var matches = entries.filter { entry in filters.allSatisfy { $0(entry) } }
        if let descending = sortDescending {
            matches = matches.enumerated().sorted { left, right in
                if left.element.lastUpdated != right.element.lastUpdated {
                    return descending
                        ? left.element.lastUpdated > right.element.lastUpdated
                        : left.element.lastUpdated < right.element.lastUpdated
                }
                return left.offset < right.offset
            }.map(\.element)
        } else if sortByID {
            matches.sort { ($0.resource["id"]?.stringValue ?? "") < ($1.resource["id"]?.stringValue ?? "") }
        }
        return matches.compactMap { $0.resource["id"]?.stringValue }
    }
}
