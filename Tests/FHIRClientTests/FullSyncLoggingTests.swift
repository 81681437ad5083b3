import Foundation
import Sandbox
import StagelinkEngine
import StagelinkTestSupport
import Testing

@testable import FHIRClient
@testable import SalesforceClient

/// What the clients log during a whole sync: everything a support person needs to follow it, and
/// not one patient's name or birth date, nor a token, key or secret.
@Suite(.timeLimit(.minutes(1)))
struct FullSyncLoggingTests {
    static let mapping = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appending(path: "config/mapping.yaml").path

    @Test func aFullPullAndUpsertLogsNoPatientDataAndNoSecret() async throws {
        let capture = LogCapture()
        try await SandboxHarness.with(patients: 40, badShare: 0.1) { harness in
            let document = try MappingDocument.load(contentsOf: Self.mapping)
            let emr = try await harness.fhir(logger: capture.logger(label: "stagelink.fhir"))
            let salesforce = try await harness.salesforce(logger: capture.logger(label: "stagelink.salesforce"))
            try harness.sandbox.faults.inject(FaultRule(.serviceUnavailable, on: .fhirSearch, trigger: .nextCalls(1), retryAfterSeconds: 0))
            try harness.sandbox.faults.inject(FaultRule(.expiredToken, on: .salesforceCollections, trigger: .nextCalls(1)))

            var linked = 0
            for resource in ["Patient", "QuestionnaireResponse"] {
                let mapping = try #require(document.inbound(forResource: resource))
                let mapper = Mapper(mapping: mapping, instruments: document.instruments)
                let pulled = try await FHIRSandboxTests.pullAll(emr, resource, pageSize: 15).records
                #expect(pulled.count == harness.sandbox.inspection.fhirResources(resource).count)
                let records = pulled.compactMap { try? mapper.map($0.payload).get() }.map { TargetRecord(fields: $0.fields) }
                let results = try await salesforce.upsert(object: mapping.object, externalIDField: mapping.externalID, records: records)
                linked += results.filter { if case .success = $0 { true } else { false } }.count
            }
            #expect(linked > 40)

            var secrets = [
                try await emr.tokens.credential().accessToken.reveal(),
                try await salesforce.tokens.credential().accessToken.reveal(),
                harness.credentials.salesforceUser.consumerSecret ?? "",
                "PRIVATE KEY",
            ]
            secrets += harness.credentials.fhirPrivateKeyPEM.split(separator: "\n").dropFirst().prefix(2).map(String.init)
            var patientData: Set<String> = []
            for patient in harness.sandbox.inspection.fhirResources("Patient") {
                for name in patient["name"]?.arrayValue ?? [] {
                    if let family = name["family"]?.stringValue, family.count > 2 { patientData.insert(family) }
                    for given in name["given"]?.arrayValue ?? [] {
                        if let text = given.stringValue, text.count > 2 { patientData.insert(text) }
                    }
                }
                if let birthDate = patient["birthDate"]?.stringValue { patientData.insert(birthDate) }
            }
            #expect(patientData.count > 40)

            let text = capture.text
            #expect(text.contains("http.path=/fhir/Patient"))
            #expect(text.contains("http.records=") && text.contains("sync.records="))
            #expect(text.contains("retrying HTTP call") && text.contains("access token refused"))
            for value in patientData { #expect(!text.contains(value), "a patient value reached the log") }
            for secret in secrets where !secret.isEmpty { #expect(!text.contains(secret), "a secret reached the log") }
        }
    }
}
