import Foundation
import StagelinkEngine
import StagelinkFakes
import StagelinkStore

/// The repository's default mapping file, which the tests use as shipped.
enum Fixtures {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let mappingPath = repositoryRoot.appendingPathComponent("config/mapping.yaml").path

    static func mapping() throws -> MappingDocument {
        try MappingDocument.load(contentsOf: mappingPath)
    }

    /// A store with the default policy loaded; `encrypted`, with a key of its own.
    static func store(encrypted: Bool = false) async throws -> (SQLiteStore, MappingDocument) {
        let store = try SQLiteStore.temporary(encrypted: encrypted)
        let mapping = try mapping()
        try await mapping.loadPolicy(into: store)
        return (store, mapping)
    }

    static func patient(
        id: String, family: String? = "Müller", given: String = "Zoë", birthDate: String = "1984-02-29", gender: String = "female",
        phone: String? = "+1 555 0100", version: Int = 1
    ) -> JSONValue {
        var name: JSONObject = ["given": [.string(given)]]
        if let family { name["family"] = .string(family) }
        var resource: JSONObject = [
            "resourceType": "Patient", "id": .string(id),
            "meta": ["versionId": .string(String(version)), "lastUpdated": .string(Timestamp.format(lastUpdated(version)))],
            "name": [.object(name)], "birthDate": .string(birthDate), "gender": .string(gender),
        ]
        if let phone { resource["telecom"] = [["system": "phone", "value": .string(phone)]] }
        return .object(resource)
    }

    static func lastUpdated(_ version: Int) -> Date {
        Date(timeIntervalSince1970: 1_790_000_000 + Double(version) * 60)
    }

    static func record(_ resource: JSONValue, system: SourceSystem = .emr) -> IncomingRecord {
        let version = resource["meta"]?["versionId"]?.stringValue
        return IncomingRecord(
            system: system, resourceType: resource["resourceType"]?.stringValue ?? "Patient", sourceID: resource["id"]?.stringValue ?? "",
            version: version, lastUpdated: resource["meta"]?["lastUpdated"]?.stringValue.flatMap(Timestamp.parse),
            payload: JSONWriter.compact(resource))
    }

    static func rawRecord(_ text: String, id: String, resourceType: String = "Patient", version: Int = 1) -> IncomingRecord {
        IncomingRecord(system: .emr, resourceType: resourceType, sourceID: id, version: String(version), lastUpdated: lastUpdated(version), payload: Array(text.utf8))
    }

    /// A Salesforce Contact as the REST API returns it, with the values of the patient fixture
    /// unless `changes` says otherwise.
    static func salesforceContact(id: String, patientID: String, changes: [String: JSONValue] = [:], modified: Date, by user: String = "005HUMAN") -> IncomingRecord {
        var record: JSONObject = [
            "attributes": ["type": "Contact", "url": .string("/services/data/v60.0/sobjects/Contact/\(id)")],
            "Id": .string(id), "SystemModstamp": .string(Timestamp.format(modified)), "LastModifiedById": .string(user),
            "EMR_Patient_Id__c": .string(patientID), "FirstName": "Zoë", "LastName": "Müller", "Birthdate": "1984-02-29", "Gender__c": "Female",
            "Phone": "+1 555 0100", "Email": .null, "MailingStreet": .null, "MailingCity": .null, "MailingState": .null, "MailingPostalCode": .null,
        ]
        for (field, value) in changes { record[field] = value }
        return IncomingRecord(system: .salesforce, resourceType: "Contact", sourceID: id, version: nil, lastUpdated: modified, payload: JSONWriter.compact(.object(record)))
    }
}

/// Runs the linker over every staged row, as one link job, and returns the job.
struct Harness {
    var store: SQLiteStore
    var mapping: MappingDocument
    var target = InMemoryUpsertTarget()
    var emr = InMemoryResourceWriter()

    init(store: SQLiteStore, mapping: MappingDocument) {
        self.store = store
        self.mapping = mapping
    }

    static func make(encrypted: Bool = false) async throws -> Harness {
        let (store, mapping) = try await Fixtures.store(encrypted: encrypted)
        return Harness(store: store, mapping: mapping)
    }

    var linker: InboundLinker { InboundLinker(store: store, target: target, mapping: mapping) }
    var outbound: OutboundLinker { OutboundLinker(store: store, mapping: mapping, emr: emr, salesforce: target, integrationUserID: { "005STAGELINK" }) }
    var operations: Operations { Operations(store: store, mapping: mapping, inbound: linker, outbound: outbound) }

    @discardableResult
    func stage(_ records: [IncomingRecord]) async throws -> StageResult {
        try await store.stage(records, job: nil, advancing: nil)
    }

    @discardableResult
    func link() async throws -> Job {
        let recorder = try await JobRecorder.start(.link, direction: .inbound, actor: .system, store: store, meters: [target.meter], logger: .init(label: "test"))
        try await linker.linkPending(recorder: recorder, stop: StopSignal())
        return try await recorder.finish()
    }

    @discardableResult
    func linkOutbound() async throws -> Job {
        let recorder = try await JobRecorder.start(.link, direction: .outbound, actor: .system, store: store, meters: [], logger: .init(label: "test"))
        try await outbound.linkPending(recorder: recorder, stop: StopSignal())
        return try await recorder.finish()
    }

    /// Links the staged rows of both directions in a cycle's order: Salesforce's values observed,
    /// then the EMR's changes linked, then Salesforce's.
    func linkBothWays() async throws {
        try await outbound.observePending()
        try await link()
        try await linkOutbound()
    }

    func row(_ id: Int64) async throws -> StagedRow {
        try #require(await store.row(id: id))
    }
}

import Testing
