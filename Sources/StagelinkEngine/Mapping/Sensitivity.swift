/// A security label on a FHIR resource: one `Coding` of `meta.security`.
///
/// FHIR R4 carries confidentiality (`http://terminology.hl7.org/CodeSystem/v3-Confidentiality`:
/// `N`, `R`, `V`…), sensitivity (`http://terminology.hl7.org/CodeSystem/v3-ActCode`: `ETH`
/// substance use, `PSY`, `HIV`, `SDV`…) and privacy law (`v3-ActCode` `42CFRPart2`) labels
/// there (FHIR R4 "Security Labels", valueset-security-labels; the FHIR DS4P IG's examples label
/// an Observation `R` with the basis `42CFRPart2`). Codes are case-sensitive; a `Coding` without a
/// system is kept with a nil system.
public struct SecurityLabel: Sendable, Hashable, CustomStringConvertible {
    public var system: String?
    public var code: String

    public init(system: String?, code: String) {
        self.system = system
        self.code = code
    }

    /// `ETH (http://terminology.hl7.org/CodeSystem/v3-ActCode)`.
    public var description: String { system.map { "\(code) (\($0))" } ?? "\(code) (no system)" }
}

/// What the mapping file's `sensitivity:` section does with labelled EMR records before anything
/// leaves the EMR: withhold the whole record, strip named fields, or let it through.
///
/// Every label of the resource counts, and so does every label of a resource it contains
/// (`contained[].meta.security`): what is contained travels with it. The strictest rule wins: one
/// blocking label withholds the record whatever else it carries. A `Coding` without a system
/// whose code is a blocking code withholds too (it cannot be told apart from the real one), but
/// the same code under another system does not: `ETH` of a local code system is not HL7's `ETH`.
/// Labels no rule names follow `unlisted` (`allow` by default).
///
/// For example:
///
/// ```swift
/// switch mapping.sensitivity.verdict(for: resource) {
/// case .withhold(let label): …    // staged, never sent
/// case .send(let stripped): …     // send, without the fields in `stripped`
/// case .invalid(let error): …     // meta.security is not a list of Codings: the row fails
/// }
/// ```
public struct SensitivityPolicy: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        /// The record is staged but never sent.
        case block
        /// The record is sent without these Salesforce fields.
        case strip([String])
        /// The label is known and changes nothing.
        case allow
    }

    public struct Rule: Sendable, Hashable {
        public var label: SecurityLabel
        public var action: Action

        public init(label: SecurityLabel, action: Action) {
            self.label = label
            self.action = action
        }
    }

    public var rules: [Rule]
    /// What a label no rule names does: `.allow` or `.block`.
    public var unlisted: Action

    public init(rules: [Rule] = [], unlisted: Action = .allow) {
        self.rules = rules
        self.unlisted = unlisted
    }

    /// No rules: every record is sent (a mapping file without a `sensitivity:` section).
    public static let none = SensitivityPolicy()

    public var isEmpty: Bool { rules.isEmpty && unlisted == .allow }

    /// What to do with one resource.
    public func verdict(for resource: JSONValue) -> SensitivityVerdict {
        guard !isEmpty else { return .send(stripping: []) }
        let labels: [SecurityLabel]
        do {
            labels = try Self.labels(of: resource)
        } catch {
            return .invalid(error)
        }
        var stripped: [String] = []
        for label in labels {
            switch action(for: label) {
            case .block: return .withhold(label)
            case .strip(let fields): stripped += fields.filter { !stripped.contains($0) }
            case .allow: break
            }
        }
        return .send(stripping: stripped)
    }

    func action(for label: SecurityLabel) -> Action {
        if let rule = rules.first(where: { $0.label == label }) { return rule.action }
        // A code without its system may be the blocked one: it is withheld, never guessed sent.
        if label.system == nil, rules.contains(where: { $0.label.code == label.code && $0.action == .block }) { return .block }
        return unlisted
    }

    /// The labels of a resource and of the resources it contains, in document order.
    public static func labels(of resource: JSONValue) throws(LinkError) -> [SecurityLabel] {
        var labels = try ownLabels(of: resource, at: "meta.security")
        if let contained = resource["contained"] {
            guard let list = contained.arrayValue else { throw invalid("contained is not a list") }
            for (index, inner) in list.enumerated() {
                labels += try ownLabels(of: inner, at: "contained[\(index)].meta.security")
            }
        }
        return labels
    }

    private static func ownLabels(of resource: JSONValue, at path: String) throws(LinkError) -> [SecurityLabel] {
        guard let meta = resource["meta"], !meta.isNull else { return [] }
        guard meta.objectValue != nil else { throw invalid("\(path.dropLast(".security".count)) is not an object") }
        guard let security = meta["security"], !security.isNull else { return [] }
        guard let codings = security.arrayValue else { throw invalid("\(path) is not a list of Codings") }
        var labels: [SecurityLabel] = []
        for (index, coding) in codings.enumerated() {
            guard coding.objectValue != nil, let code = coding["code"]?.stringValue, !code.isEmpty else {
                throw invalid("\(path)[\(index)] is not a Coding with a code")
            }
            if let system = coding["system"], !system.isNull, system.stringValue == nil {
                throw invalid("\(path)[\(index)].system is not a string")
            }
            labels.append(SecurityLabel(system: coding["system"]?.stringValue, code: code))
        }
        return labels
    }

    private static func invalid(_ message: String) -> LinkError {
        LinkError(.mappingInvalidSecurityLabel, message: "\(message): its sensitivity cannot be judged, so it is not sent", fields: ["meta.security"])
    }
}

/// The sensitivity policy's answer for one resource.
public enum SensitivityVerdict: Sendable, Hashable {
    case send(stripping: [String])
    case withhold(SecurityLabel)
    case invalid(LinkError)
}

extension LinkError {
    /// Why a row was withheld, naming the label, never a value.
    public static func withheld(by label: SecurityLabel) -> LinkError {
        LinkError(.withheldByLabel, message: "withheld by the security label \(label): the mapping's sensitivity section blocks it")
    }
}
