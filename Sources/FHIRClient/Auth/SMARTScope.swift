import StagelinkEngine

/// A SMART clinical-data scope, `system/Patient.rs`, read in either syntax: v2 (`.cruds`
/// letters) or v1 (`.read`, `.write`, `.*`, which SMART App Launch 2 reads as `.rs`, `.cud`
/// and `.cruds`).
///
/// Stagelink asks for v2 scopes, per resource, for exactly what its mapping does
/// (``defaultScope(for:)``), and checks the token's `scope` against what it asked for: a server
/// may grant less than requested, and a sync that finds out on its first write is harder to
/// diagnose than a sign-in that names the missing scope.
///
/// For example:
///
/// ```swift
/// SMARTScope.defaultScope(for: mapping)
/// // "system/Patient.rs system/Patient.cu system/EpisodeOfCare.rs system/QuestionnaireResponse.rs system/ServiceRequest.s system/ServiceRequest.c"
/// SMARTScope("system/*.read")!.covers(SMARTScope("system/Patient.rs")!)   // true
/// ```
public struct SMARTScope: Sendable, Hashable, CustomStringConvertible {
    /// `system`, `user` or `patient`.
    public var context: String
    /// A resource type, or `*`.
    public var resource: String
    public var interactions: Set<FHIRInteraction>
    /// The text it was read from.
    public var description: String

    /// Reads `context/Resource.permissions`; nil for anything else (`openid`, `launch`), and for
    /// v2 letters out of order or unknown (`.dus`), which SMART lets a server refuse.
    public init?(_ text: String) {
        guard let slash = text.firstIndex(of: "/"), let dot = text.lastIndex(of: "."), slash < dot else { return nil }
        let context = String(text[..<slash])
        let resource = String(text[text.index(after: slash)..<dot])
        var permissions = String(text[text.index(after: dot)...])
        if let query = permissions.firstIndex(of: "?") { permissions = String(permissions[..<query]) }
        guard ["system", "user", "patient"].contains(context), !resource.isEmpty else { return nil }
        switch permissions {
        case "read": interactions = [.read, .search]
        case "write": interactions = [.create, .update, .delete]
        case "*": interactions = Set(FHIRInteraction.allCases)
        default:
            let letters = permissions.compactMap(FHIRInteraction.init(rawValue:))
            guard !letters.isEmpty, letters.count == permissions.count, letters == letters.sorted(), Set(letters).count == letters.count
            else { return nil }
            interactions = Set(letters)
        }
        self.context = context
        self.resource = resource
        self.description = text
    }

    /// Whether a grant of this scope allows everything `other` asks for.
    public func covers(_ other: SMARTScope) -> Bool {
        context == other.context && (resource == "*" || resource == other.resource) && interactions.isSuperset(of: other.interactions)
    }

    /// The scopes of `requested` (space-separated) that `granted` does not cover, in order.
    /// Scopes that are not clinical-data scopes must be granted as written.
    public static func refused(_ requested: String, granted: String) -> [String] {
        let grants = granted.split(separator: " ").map(String.init)
        let parsed = grants.compactMap(SMARTScope.init)
        return requested.split(separator: " ").map(String.init).filter { wanted in
            if grants.contains(wanted) { return false }
            guard let scope = SMARTScope(wanted) else { return true }
            return !parsed.contains { $0.covers(scope) }
        }
    }

    /// SMART v2 `system/` scopes for what `mapping` does in the EMR: per resource, one scope for
    /// reading (`rs`) and one for writing (`cud`), each with only the letters it needs.
    ///
    /// A Group-level Bulk Data export (`exportsGroup`) also reads the Group: the Bulk Data Access IG
    /// asks for `system/Group.rs` (v2) to list the cohort and kick off `Group/[id]/$export`.
    public static func defaultScope(for mapping: MappingDocument, exportsGroup: Bool = false) -> String {
        let resources = mapping.emrAccess.flatMap { access -> [String] in
            let letters = access.interactions.sorted()
            let reading = String(letters.filter { $0 == .read || $0 == .search }.map(\.rawValue))
            let writing = String(letters.filter { $0 == .create || $0 == .update || $0 == .delete }.map(\.rawValue))
            return [reading, writing].filter { !$0.isEmpty }.map { "system/\(access.resource).\($0)" }
        }
        return (resources + (exportsGroup ? ["system/Group.rs"] : [])).joined(separator: " ")
    }
}
