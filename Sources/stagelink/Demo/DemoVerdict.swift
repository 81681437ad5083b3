import Sandbox
import StagelinkEngine

/// Whether the demo did what it promises: every good seeded record arrived on the other side
/// exactly once, and every bad one failed with an error naming the field at fault.
struct DemoVerdict {
    var checked = 0
    var problems: [String] = []

    var passed: Bool { problems.isEmpty }

    /// The level of care (as the mapping writes it) that only withheld episodes have.
    static let withheldLevelOfCare = "Detox"

    static func judge(sandbox: Sandbox, store: any RowReader, mapping: MappingDocument) async throws -> DemoVerdict {
        var verdict = DemoVerdict()
        let inspection = sandbox.inspection
        // People are Contacts, or Person Accounts (Health Cloud), as the patients mapping says.
        let patients = mapping.peopleMapping
        let people = patients?.object ?? "Contact"
        let patientKey = patients?.externalID ?? "EMR_Patient_Id__c"
        let contactsByPatient = count(inspection.salesforceRecords(people), key: patientKey)
        let assessments = count(inspection.salesforceRecords("Assessment__c"), key: "EMR_Assessment_Id__c")
        let pushedPatients = countIdentified(inspection.fhirResources("Patient"), system: mapping.outbound.admissions?.patientIdentifierSystem)
        let serviceRequests = countIdentified(
            inspection.fhirResources("ServiceRequest"), system: mapping.outbound.admissions?.serviceRequest.identifierSystem)

        for record in inspection.truth() {
            verdict.checked += 1
            let system: SourceSystem = record.system == .fhir ? .emr : .salesforce
            let rows = try await store.rows(RowQuery(filter: RowFilter(system: system, resourceType: record.type, sourceID: record.id), sort: RowSort(descending: true), limit: 20))
            let name = "\(record.type)/\(record.id)"
            if let fault = record.fault {
                guard let latest = rows.first, latest.status == .failed || latest.status == .ignored else {
                    verdict.problems.append("\(name) is bad (\(fault.kind.rawValue)) but is \(rows.first?.status.rawValue ?? "not staged")")
                    continue
                }
                guard let row = try await store.row(id: latest.id), row.error?.fields.contains(fault.field) == true else {
                    verdict.problems.append("\(name) failed without naming \(fault.field)")
                    continue
                }
                continue
            }
            if let label = record.withheldBy {
                // Labelled (42 CFR Part 2): staged, withheld naming the label, never sent.
                if rows.first?.status != .withheld { verdict.problems.append("\(name) is labelled \(label) but is \(rows.first?.status.rawValue ?? "not staged")") }
                continue
            }
            switch record.type {
            case "Patient":
                if contactsByPatient[record.id] != 1 { verdict.problems.append("\(name) arrived \(contactsByPatient[record.id] ?? 0) times as a \(people)") }
            case "QuestionnaireResponse":
                if assessments[record.id] != 1 { verdict.problems.append("\(name) arrived \(assessments[record.id] ?? 0) times as an Assessment") }
            case "Admission__c":
                let admission = inspection.salesforceRecord("Admission__c", id: record.id)
                guard admission?["Stage__c"]?.stringValue == mapping.outbound.admissions?.readyValue else { continue }
                let contact = admission?[mapping.outbound.admissions?.contactField ?? "Contact__c"]?.stringValue ?? ""
                if pushedPatients[contact] != 1 { verdict.problems.append("\(name) made \(pushedPatients[contact] ?? 0) Patients") }
                if serviceRequests[record.id] != 1 { verdict.problems.append("\(name) made \(serviceRequests[record.id] ?? 0) ServiceRequests") }
            default:
                if rows.first?.status != .linked && rows.first?.status != .held {
                    verdict.problems.append("\(name) is \(rows.first?.status.rawValue ?? "not staged"), not linked")
                }
            }
        }
        // Withheld episodes are the only source of a detox level of care: none may reach Salesforce.
        if let episodes = mapping.inbound(forResource: "EpisodeOfCare"),
            let level = episodes.fields.first(where: { field in field.values.contains { $0.label == Self.withheldLevelOfCare } })
        {
            let leaked = inspection.salesforceRecords(episodes.object).filter { $0[level.field]?.stringValue == Self.withheldLevelOfCare }
            if !leaked.isEmpty { verdict.problems.append("\(leaked.count) \(episodes.object) records hold a withheld (42 CFR Part 2) level of care") }
        }
        for (patient, copies) in contactsByPatient where copies > 1 { verdict.problems.append("Patient/\(patient) has \(copies) \(people) records") }
        for (contact, copies) in pushedPatients where copies > 1 { verdict.problems.append("Contact \(contact) has \(copies) Patients") }
        verdict.problems += emrWriteProblems(sandbox)
        return verdict
    }

    /// An EHR without PUT (certified) must have been written by JSON Patch only: a PUT sent to it
    /// is a client that ignored the CapabilityStatement. Creates without `If-None-Exist` need no
    /// check here: the certified sandbox refuses the header, so an admission sent with it fails.
    static func emrWriteProblems(_ sandbox: Sandbox) -> [String] {
        guard !sandbox.configuration.emrProfile.offersPutUpdate else { return [] }
        let counts = sandbox.inspection.counts()
        let puts = counts.calls[.fhirUpdate, default: 0]
        return puts == 0 ? [] : ["\(puts) PUTs were sent to an EHR that updates by JSON Patch only"]
    }

    /// How the EMR was written, for the demo's closing lines: creates, patches and PUTs.
    static func emrWrites(_ sandbox: Sandbox) -> String {
        let counts = sandbox.inspection.counts()
        return "EMR writes (\(sandbox.configuration.emrProfile)): \(counts.writes[.fhirCreate, default: 0]) creates, "
            + "\(counts.writes[.fhirPatch, default: 0]) JSON Patches, \(counts.writes[.fhirUpdate, default: 0]) PUTs"
    }

    private static func count(_ records: [WireJSON], key: String) -> [String: Int] {
        var counts: [String: Int] = [:]
        for record in records {
            if let value = record[key]?.stringValue { counts[value, default: 0] += 1 }
        }
        return counts
    }

    private static func countIdentified(_ resources: [WireJSON], system: String?) -> [String: Int] {
        var counts: [String: Int] = [:]
        for resource in resources {
            for identifier in resource["identifier"]?.arrayValue ?? [] where identifier["system"]?.stringValue == system {
                counts[identifier["value"]?.stringValue ?? "", default: 0] += 1
            }
        }
        return counts
    }
}
