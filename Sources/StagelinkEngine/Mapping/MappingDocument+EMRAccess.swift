/// A FHIR REST interaction, as SMART v2 scopes name them (`c`, `r`, `u`, `d`, `s`).
public enum FHIRInteraction: Character, Sendable, Hashable, CaseIterable, Comparable {
    case create = "c"
    case read = "r"
    case update = "u"
    case delete = "d"
    case search = "s"

    /// In SMART's canonical order, `cruds`.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// What a sync driven by one mapping does to one EMR resource type.
public struct EMRAccess: Sendable, Hashable {
    /// The FHIR resource type (`Patient`).
    public var resource: String
    public var interactions: Set<FHIRInteraction>

    public init(resource: String, interactions: Set<FHIRInteraction>) {
        self.resource = resource
        self.interactions = interactions
    }
}

extension MappingDocument {
    /// The EMR resource types this mapping touches and how, in first-use order: what the EMR
    /// must let Stagelink do, and nothing more (the default SMART scopes are made from it).
    ///
    /// - every inbound resource is searched (the delta pull) and read (retries, conflict checks);
    /// - a resource with a field whose owner lets Salesforce's value win is updated (a resolved
    ///   conflict is written back), and so is the Patient of linked Contacts (outbound contacts);
    /// - admissions create their Patient and a ServiceRequest, searching each by its identifier.
    ///
    /// For example, the default mapping needs:
    ///
    /// ```swift
    /// mapping.emrAccess.map { "\($0.resource).\(String($0.interactions.sorted().map(\.rawValue)))" }
    /// // ["Patient.crus", "EpisodeOfCare.rs", "QuestionnaireResponse.rs", "ServiceRequest.cs"]
    /// ```
    public var emrAccess: [EMRAccess] {
        var order: [String] = []
        var needs: [String: Set<FHIRInteraction>] = [:]
        func add(_ resource: String, _ interactions: Set<FHIRInteraction>) {
            if needs[resource] == nil { order.append(resource) }
            needs[resource, default: []].formUnion(interactions)
        }
        for mapping in inbound {
            add(mapping.resource, [.read, .search])
            if mapping.fields.contains(where: { $0.owner.salesforceMayWriteEMR && $0.path != nil && !$0.type.isComputed }) {
                add(mapping.resource, [.update])
            }
        }
        if let contacts = outbound.contacts, let patients = inbound(named: contacts.mapping) {
            add(patients.resource, [.read, .update])
        }
        // A create is keyed on an identifier and searches by it: search-then-create before the
        // POST, a conditional create's 412 to name the duplicates.
        if let admissions = outbound.admissions {
            add(inbound(named: admissions.patientMapping)?.resource ?? "Patient", [.create, .search])
            add("ServiceRequest", [.create, .search])
        }
        return order.map { EMRAccess(resource: $0, interactions: needs[$0]!) }
    }
}
