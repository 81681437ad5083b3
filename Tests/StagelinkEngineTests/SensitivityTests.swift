import Foundation
import Testing
@testable import StagelinkEngine
import StagelinkStore

/// Security labels (FHIR R4 `meta.security`) are honoured before anything leaves the EMR: a
/// blocked record is staged but never sent, a stripping label removes fields, and nothing a
/// label later stops is ever "un-sent".
struct SensitivityTests {
    static let actCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    static let confidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"

    static func labelled(_ resource: JSONValue, _ labels: [(system: String?, code: String)]) -> JSONValue {
        guard case .object(var object) = resource, case .object(var meta)? = object["meta"] else { return resource }
        meta["security"] = .array(
            labels.map { label in
                var coding: JSONObject = ["code": .string(label.code)]
                if let system = label.system { coding["system"] = .string(system) }
                return .object(coding)
            })
        object["meta"] = .object(meta)
        return .object(object)
    }

    static func resource(_ text: String) throws -> JSONValue { try JSONValue(parsing: Array(text.utf8)) }

    // MARK: - The mapping file

    @Test func theDefaultMappingBlocksPartTwoAndSubstanceUseAndAllowsOrdinaryConfidentiality() throws {
        let policy = try Fixtures.mapping().sensitivity
        #expect(policy.action(for: SecurityLabel(system: Self.actCode, code: "42CFRPart2")) == .block)
        #expect(policy.action(for: SecurityLabel(system: Self.actCode, code: "ETH")) == .block)
        #expect(policy.action(for: SecurityLabel(system: "urn:oid:2.16.840.1.113883.5.4", code: "ETH")) == .block, "the same code system by its OID")
        #expect(policy.action(for: SecurityLabel(system: Self.confidentiality, code: "R")) == .allow)
        #expect(policy.unlisted == .allow)
    }

    static let baseMapping = """
        version: 1
        inbound:
          - name: patients
            resource: Patient
            object: Contact
            externalId: EMR_Patient_Id__c
            fields:
              - { field: EMR_Patient_Id__c, path: id, owner: emr }
              - { field: LastName, path: "name[0].family", owner: emr }
        """

    @Test(arguments: [
        ("  strip:\n    - { system: s, code: PSY, fields: [EMR_Patient_Id__c] }", "external id of patients"),
        ("  strip:\n    - { system: s, code: PSY, fields: [Nope__c] }", "Nope__c is not a field of any inbound mapping"),
        ("  strip:\n    - { system: s, code: PSY, fields: [] }", "names the Salesforce fields"),
        ("  block:\n    - { system: s, code: ETH }\n  allow:\n    - { system: s, code: ETH }", "already has a rule"),
        ("  block:\n    - { code: ETH }", "missing required key \"system\""),
        ("  unlisted: maybe", "expected allow or block"),
        ("  deny:\n    - { system: s, code: ETH }", "deny"),
    ])
    func aSensitivitySectionThatCannotBeHonouredIsRefusedNamingTheProblem(section: String, message: String) throws {
        #expect {
            try MappingDocument(yaml: Self.baseMapping + "\nsensitivity:\n" + section, file: "mapping.yaml")
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func aStripRuleNamesMappedFields() throws {
        let document = try MappingDocument(
            yaml: Self.baseMapping + "\nsensitivity:\n  strip:\n    - { system: s, code: PSY, fields: [LastName] }\n  unlisted: block", file: "m.yaml")
        #expect(document.sensitivity.rules == [.init(label: SecurityLabel(system: "s", code: "PSY"), action: .strip(["LastName"]))])
        #expect(document.sensitivity.unlisted == .block)
    }

    // MARK: - Verdicts

    @Test func aLabelOnAContainedResourceWithholdsTheWholeRecord() throws {
        let policy = try Fixtures.mapping().sensitivity
        let resource = try Self.resource(
            #"{"resourceType":"Patient","id":"p1","contained":[{"resourceType":"Condition","id":"c","meta":{"security":[{"system":"\#(Self.actCode)","code":"ETH"}]}}]}"#)
        #expect(policy.verdict(for: resource) == .withhold(SecurityLabel(system: Self.actCode, code: "ETH")))
    }

    @Test func theSameCodeUnderAnotherSystemIsNotHL7sCodeButACodeWithoutASystemIsWithheld() throws {
        let policy = try Fixtures.mapping().sensitivity
        let local = Self.labelled(Fixtures.patient(id: "p1"), [("https://ehr.example/labels", "ETH")])
        #expect(policy.verdict(for: local) == .send(stripping: []))
        let bare = Self.labelled(Fixtures.patient(id: "p1"), [(nil, "42CFRPart2")])
        #expect(policy.verdict(for: bare) == .withhold(SecurityLabel(system: nil, code: "42CFRPart2")))
        let otherCase = Self.labelled(Fixtures.patient(id: "p1"), [(Self.actCode, "eth")])
        #expect(policy.verdict(for: otherCase) == .send(stripping: []), "HL7 codes are case-sensitive: eth is not a code of v3-ActCode")
    }

    @Test func theStrictestLabelWinsWhateverItsPlaceAmongTheLabels() throws {
        let policy = SensitivityPolicy(rules: [
            .init(label: SecurityLabel(system: "s", code: "PSY"), action: .strip(["Phone"])),
            .init(label: SecurityLabel(system: "s", code: "HIV"), action: .strip(["Email", "Phone"])),
            .init(label: SecurityLabel(system: "s", code: "ETH"), action: .block),
        ])
        #expect(policy.verdict(for: Self.labelled(Fixtures.patient(id: "p"), [("s", "PSY"), ("s", "HIV")])) == .send(stripping: ["Phone", "Email"]))
        #expect(policy.verdict(for: Self.labelled(Fixtures.patient(id: "p"), [("s", "PSY"), ("s", "ETH")])) == .withhold(SecurityLabel(system: "s", code: "ETH")))
        let strict = SensitivityPolicy(rules: [.init(label: SecurityLabel(system: "s", code: "N"), action: .allow)], unlisted: .block)
        #expect(strict.verdict(for: Self.labelled(Fixtures.patient(id: "p"), [("s", "N")])) == .send(stripping: []))
        #expect(strict.verdict(for: Self.labelled(Fixtures.patient(id: "p"), [("s", "N"), ("t", "X")])) == .withhold(SecurityLabel(system: "t", code: "X")))
    }

    @Test(arguments: [
        #"{"resourceType":"Patient","id":"p","meta":{"security":"R"}}"#,
        #"{"resourceType":"Patient","id":"p","meta":{"security":[{"system":"s"}]}}"#,
        #"{"resourceType":"Patient","id":"p","meta":{"security":[{"system":5,"code":"ETH"}]}}"#,
        #"{"resourceType":"Patient","id":"p","contained":{"meta":{"security":[]}}}"#,
        #"{"resourceType":"Patient","id":"p","contained":[{"meta":"restricted"}]}"#,
    ])
    func labelsThatCannotBeReadFailTheRowInsteadOfBeingGuessed(text: String) throws {
        let policy = try Fixtures.mapping().sensitivity
        guard case .invalid(let error) = policy.verdict(for: try Self.resource(text)) else {
            Issue.record("judged: \(text)")
            return
        }
        #expect(error.code == "MAPPING_INVALID_SECURITY_LABEL")
        #expect(error.fields == ["meta.security"])
    }

    // MARK: - Linking

    @Test func aBlockedRecordIsStagedButNeverSentAndIsNeitherAFailureNorRetried() async throws {
        let harness = try await Harness.make()
        let labelled = Self.labelled(Fixtures.patient(id: "p1"), [(Self.confidentiality, "R"), (Self.actCode, "42CFRPart2")])
        let staged = try await harness.stage([Fixtures.record(labelled), Fixtures.record(Fixtures.patient(id: "p2", family: "Okafor"))])
        let job = try await harness.link()

        let row = try await harness.row(staged.rowIDs[0])
        #expect(row.status == .withheld)
        #expect(row.error?.code == ErrorCode.withheldByLabel.rawValue)
        #expect(row.error?.message.contains("42CFRPart2 (\(Self.actCode))") == true, "the row names the label that withheld it")
        #expect(row.payload == JSONWriter.compact(labelled), "the evidence is kept verbatim")
        #expect(harness.target.record("Contact", externalID: "p1") == nil, "nothing reached Salesforce")
        #expect(harness.target.record("Contact", externalID: "p2")?["LastName"] == .text("Okafor"), "the rest of the batch flows")
        #expect(job.counts.failed == 0 && job.counts.linked == 1)
        #expect(try await harness.store.countRows(RowFilter(statuses: [.withheld])) == 1)
        #expect(try await harness.store.history(ofRow: row.id).last?.to == .withheld)

        let report = try await harness.operations.retry(.rows([row.id]), by: "support")
        #expect(report.skipped == [row.id], "a withheld row is not retried")
        _ = try await harness.operations.retry(.allFailed, by: "support")
        #expect(try await harness.row(row.id).status == .withheld)
        #expect(harness.target.record("Contact", externalID: "p1") == nil)
    }

    @Test func aLaterVersionWithoutTheLabelFlowsNormally() async throws {
        let harness = try await Harness.make()
        let first = try await harness.stage([Fixtures.record(Self.labelled(Fixtures.patient(id: "p1", family: "Alpha"), [(Self.actCode, "ETH")]))])
        try await harness.link()
        #expect(try await harness.row(first.rowIDs[0]).status == .withheld)

        let second = try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1", family: "Beta", version: 2))])
        try await harness.link()
        #expect(try await harness.row(second.rowIDs[0]).status == .linked)
        #expect(harness.target.record("Contact", externalID: "p1")?["LastName"] == .text("Beta"))
        #expect(try await harness.row(first.rowIDs[0]).status == .withheld, "the older row keeps its own verdict")
    }

    @Test func aLaterVersionWithTheLabelStopsUpdatesAndUnsendsNothing() async throws {
        let harness = try await Harness.make()
        let first = try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1", family: "Alpha"))])
        try await harness.link()
        let labelled = Self.labelled(Fixtures.patient(id: "p1", family: "Beta", version: 2), [(Self.actCode, "42CFRPart2")])
        let second = try await harness.stage([Fixtures.record(labelled)])
        try await harness.link()

        #expect(try await harness.row(second.rowIDs[0]).status == .withheld)
        #expect(harness.target.record("Contact", externalID: "p1")?["LastName"] == .text("Alpha"), "the labelled change never went; what went stays")
        let link = try #require(try await harness.store.links(for: [SourceKey(system: .emr, resourceType: "Patient", sourceID: "p1")]).values.first)
        #expect(link.linkedRowID == first.rowIDs[0], "the link stays on the version that was sent")
    }

    @Test func anOlderUnlabelledVersionInTheSameBatchIsSupersededByItsLabelledSuccessor() async throws {
        let harness = try await Harness.make()
        let staged = try await harness.stage([
            Fixtures.record(Fixtures.patient(id: "p1", family: "Alpha")),
            Fixtures.record(Self.labelled(Fixtures.patient(id: "p1", family: "Beta", version: 2), [(Self.actCode, "ETH")])),
        ])
        try await harness.link()
        #expect(try await harness.row(staged.rowIDs[0]).status == .superseded)
        #expect(try await harness.row(staged.rowIDs[1]).status == .withheld)
        #expect(harness.target.record("Contact", externalID: "p1") == nil)
    }

    @Test func aStrippingLabelSendsTheRecordWithoutTheNamedFields() async throws {
        var harness = try await Harness.make()
        harness.mapping.sensitivity = SensitivityPolicy(rules: [
            .init(label: SecurityLabel(system: Self.actCode, code: "PSY"), action: .strip(["Phone", "Birthdate"]))
        ])
        let staged = try await harness.stage([Fixtures.record(Self.labelled(Fixtures.patient(id: "p1"), [(Self.actCode, "PSY")]))])
        try await harness.link()
        #expect(try await harness.row(staged.rowIDs[0]).status == .linked)
        let contact = try #require(harness.target.record("Contact", externalID: "p1"))
        #expect(contact["LastName"] == .text("Müller"))
        #expect(contact["Phone"] == nil)
        #expect(contact["Birthdate"] == nil)
        #expect(try await harness.store.writes(byRow: staged.rowIDs[0]).allSatisfy { !["Phone", "Birthdate"].contains($0.field) })
    }

    @Test func aFailedOlderVersionRetriedAfterALabelledOneIsSupersededNotSent() async throws {
        let harness = try await Harness.make()
        harness.target.failRecords { _, _ in LinkError(code: "UNABLE_TO_LOCK_ROW", message: "unable to obtain exclusive access to this record") }
        let first = try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1", family: "Alpha"))])
        try await harness.link()
        #expect(try await harness.row(first.rowIDs[0]).status == .failed)
        harness.target.failRecords(nil)
        let second = try await harness.stage([Fixtures.record(Self.labelled(Fixtures.patient(id: "p1", family: "Beta", version: 2), [(Self.actCode, "ETH")]))])
        try await harness.link()
        #expect(try await harness.row(second.rowIDs[0]).status == .withheld)

        _ = try await harness.operations.retry(.allFailed, by: "support")
        let retried = try await harness.row(first.rowIDs[0])
        #expect(retried.status == .superseded)
        #expect(retried.note?.contains("(row \(second.rowIDs[0])) is withheld") == true, "\(retried.note ?? "")")
        #expect(harness.target.record("Contact", externalID: "p1") == nil, "nothing of the record is sent once it is labelled")
    }
}
