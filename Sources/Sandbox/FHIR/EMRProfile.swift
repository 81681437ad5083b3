/// How the FHIR simulator behaves: which kind of real EHR it stands for. Every capability below
/// follows a vendor's or a standard's documentation; docs/emr-profiles.md cites each one.
///
/// For example:
///
/// ```swift
/// var configuration = SandboxConfiguration(credentials: credentials)
/// configuration.emrProfile = .certified   // population searches refused; Bulk Data export offered
/// ```
///
/// The profile is a small value with one property per capability, so that later rules (the
/// writes and sign-in rules of `certified`) are added as properties, not as `switch`es spread
/// through the routes.
public enum EMRProfile: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// An open FHIR server (HAPI, Microsoft FHIR server): population search with `_lastUpdated`,
    /// `_sort` and `_count`, unknown parameters refused, Bulk Data export offered.
    case generic
    /// A certified EHR (Epic, Oracle Health, ONC (g)(10)-certified behavioral-health EHRs):
    /// searches of patient data need a patient (`_id`, `identifier`, `patient`); "what changed
    /// since" is the Bulk Data `$export` with `_since`.
    case certified
    /// An open server behind a proxy: unknown parameters and `_sort` silently ignored, `_count`
    /// capped, next links on another origin of the same server.
    case lenient

    public var description: String { rawValue }

    /// The resource types whose searches `certified` refuses unless they name a patient.
    ///
    /// Epic's Patient.Search (R4) needs an id, an identifier, or demographics such as name plus
    /// birth date; Oracle Health Millennium's Patient search needs `_id`, `identifier`, `name` or
    /// `birthdate`, and its patient-data searches need `patient`. A search without one is refused
    /// as `too-costly`, the OperationOutcome issue code FHIR R4 defines for "the search would
    /// return too many results" (hl7.org/fhir/R4/valueset-issue-type.html).
    static let patientScopedTypes: Set<String> = ["Patient", "EpisodeOfCare", "QuestionnaireResponse"]

    /// Whether a search of a patient-data type without a patient is refused (400, `too-costly`).
    public var refusesPopulationSearch: Bool { self == .certified }

    /// Whether `GET [base]/$export` and `GET [base]/Group/[id]/$export` are offered (Bulk Data Access
    /// IG v2). Every EHR certified under ONC § 170.315(g)(10) must offer the Group export; open
    /// servers (HAPI, Microsoft's) offer both levels.
    public var offersBulkExport: Bool { self != .lenient }

    /// Whether search parameters the server does not know are dropped silently instead of refused.
    /// FHIR R4 search (§3.1.1.1.3): without `Prefer: handling=strict` a server MAY ignore them, and
    /// reports what it applied in `Bundle.link[self]`.
    public var ignoresUnknownParameters: Bool { self == .lenient }

    /// How a search treats parameters it does not know, given the client's `Prefer` header: FHIR
    /// R4 search §3.1.1.1.3 lets a client ask for `handling=strict` (refuse them) or
    /// `handling=lenient` (ignore them, leaving them out of the self link). `generic` and
    /// `certified` honour the preference and say so with `Preference-Applied` (RFC 7240 §3); the
    /// `lenient` proxy drops it and ignores unknown parameters whatever was asked. Returns whether
    /// unknown parameters are ignored, and the preference applied, if any.
    func unknownParameters(prefer: String?) -> (ignored: Bool, applied: String?) {
        let asked = prefer?.split(separator: ",").lazy.map { String($0.filter { !$0.isWhitespace }) }
            .first { $0 == "handling=strict" || $0 == "handling=lenient" }
        guard self != .lenient, let asked else { return (ignoresUnknownParameters, nil) }
        return (asked == "handling=lenient", asked)
    }

    /// Whether `_sort` is ignored (pages come in storage order). FHIR R4 search §3.1.1.4.3: servers
    /// are not required to support sorting, and say so by leaving `_sort` out of the self link.
    public var ignoresSort: Bool { self == .lenient }

    /// The most entries a search page holds, whatever `_count` asks: FHIR R4 §3.1.1.5.7 lets a
    /// server return fewer than asked. The lenient proxy caps pages at 100.
    public var maximumPageSize: Int { self == .lenient ? 100 : FHIRSearch.maximumCount }

    /// Whether `Bundle.link[next]` names another origin of the same server (`localhost` for
    /// `127.0.0.1` and back), as a server behind a proxy that builds links from its own host name does.
    public var nextLinksOnAnotherOrigin: Bool { self == .lenient }

    /// The sign-in rules of the profile's token endpoint (added to `SandboxConfiguration.smartRules`):
    /// certified EHRs require `kid`, grant SMART v2 scopes only and per resource (Epic and Oracle
    /// Health's backend-services registration; SMART App Launch 2.0 scopes, docs/emr-profiles.md).
    public var smartRules: SMARTRules { self == .certified ? .certified : [] }

    /// Whether `POST` honours `If-None-Exist` (conditional create). Open servers do (HAPI, Microsoft's
    /// FHIR server); a certified EHR refuses the header with 400 `not-supported` rather than create
    /// a duplicate behind the client's back: Oracle Health Millennium's "Create a patient"
    /// (docs.oracle.com/en/industries/health/millennium-platform-apis/mfrap/op-patient-post.html)
    /// documents no `If-None-Exist`, and Oracle's own forum confirms there is none
    /// (forums.oracle.com "Patient Create", Dec 2025). Several matches answer 412 wherever it is
    /// offered (FHIR R4 http.html, conditional create: "Multiple matches: 412 Precondition Failed").
    public var offersConditionalCreate: Bool { self != .certified }

    /// Whether `PUT [base]/[type]/[id]` (update) is offered. Oracle Health Millennium's Patient API
    /// offers create and JSON Patch only; a certified EHR answers PUT with 405.
    public var offersPutUpdate: Bool { self != .certified }

    /// Whether a JSON Patch must carry `If-Match`. Oracle Health Millennium marks `If-Match`
    /// "required" on every patch (op-patientid-patch.html, op-medicationrequest-id-patch.html) and
    /// answers a patch without it with 412 (op-appointment-id-patch.html, "Errors"); open servers
    /// take it as optional (FHIR R4 http.html, version-aware updates).
    public var patchRequiresIfMatch: Bool { self == .certified }

    /// Whether `POST [base]` takes a `batch` Bundle (FHIR R4 http.html#transaction), listed as the
    /// system-level interaction `batch` in the CapabilityStatement's `rest.interaction`. Open servers
    /// (HAPI, Microsoft's FHIR server) offer it; the certified profile does not (Oracle Health
    /// Millennium's and Epic's published R4 APIs are per-resource interactions), so its clients
    /// write one interaction at a time. Oracle's FHIR service documents the same check: "Check that
    /// the deployed server's CapabilityStatement advertises the system-level batch interaction"
    /// (docs.oracle.com/en-us/iaas/device-data-fhir/fhir-batch.htm).
    public var offersBatch: Bool { self != .certified }

    /// The interactions the CapabilityStatement lists for every resource type.
    public var interactions: [String] {
        ["read", "vread", "create"] + (offersPutUpdate ? ["update"] : []) + ["patch", "search-type"]
    }

    /// Whether a search of this type with these parameter names is refused for naming no patient.
    func refuses(searchOf type: String, parameterNames names: Set<String>) -> Bool {
        guard refusesPopulationSearch, Self.patientScopedTypes.contains(type) else { return false }
        if !names.isDisjoint(with: ["_id", "identifier"]) { return false }
        if type == "Patient" { return !(names.contains("name") && names.contains("birthdate")) }
        return names.isDisjoint(with: ["patient", "subject"])
    }

    /// The OperationOutcome of a refused population search.
    static func tooCostly(_ type: String) -> FHIRError {
        let needs = type == "Patient" ? "_id, identifier, or name and birthdate" : "_id, identifier or patient"
        return FHIRError(
            status: 400, code: "too-costly",
            diagnostics: "A \(type) search must name a patient (\(needs)); for changes across all patients use Group/[id]/$export with _since")
    }

    /// The same base URL on the other loopback name (`127.0.0.1` ↔ `localhost`).
    static func otherOrigin(of base: String) -> String {
        if base.contains("://127.0.0.1") { return base.replacingOccurrences(of: "://127.0.0.1", with: "://localhost") }
        if base.contains("://localhost") { return base.replacingOccurrences(of: "://localhost", with: "://127.0.0.1") }
        return base
    }
}
