import Foundation
import StagelinkBenchmarks
import StagelinkEngine
import StagelinkFakes
import StagelinkStore
import Testing
@testable import Console

/// The console's actions over the engine's `Operations`: what each needs, and what the status
/// line says after the engine did it.
@MainActor
@Suite(.timeLimit(.minutes(3)))
struct OperationsActionsTests {
    /// A Salesforce that knows the seeded admissions, for a push by id.
    struct SeededLookup: RecordLookup {
        func record(type: String, id: String, fields: [String]) async throws(RemoteCallError) -> IncomingRecord? {
            guard type == "Admission__c", let index = Int(id.suffix(6)), index % 100 == 99 else { return nil }
            return SeededStore.record(index)
        }
    }

    private func console(_ operations: (SQLiteStore, MappingDocument) -> Operations, tab: ConsoleTab) async throws -> (HeadlessConsole, SQLiteStore, SeededStore.Contents) {
        let store = try SQLiteStore.temporary("console-operations")
        let mapping = try MappingDocument.load(contentsOf: ConsoleFixture.repositoryRoot.appendingPathComponent("config/mapping.yaml").path)
        let contents = try await SeededStore.fill(store, mapping: mapping, rows: 120, failures: 10)
        let configuration = ConsoleFixture.configuration(store: store, mapping: mapping, now: Date(), tab: tab, readOnly: false)
        let console = try HeadlessConsole(
            store: store, actions: OperationsConsoleActions(operations: operations(store, mapping)), configuration: configuration)
        await console.start()
        return (console, store, contents)
    }

    @Test func withoutConnectionsOnlyIgnoreAndPolicyChangesAreOffered() throws {
        let store = try SQLiteStore.temporary("console-operations")
        let mapping = try MappingDocument.load(contentsOf: ConsoleFixture.repositoryRoot.appendingPathComponent("config/mapping.yaml").path)
        let actions = OperationsConsoleActions(operations: Operations(store: store, mapping: mapping, inbound: nil))
        #expect(actions.unavailability(of: .ignore) == nil)
        #expect(actions.unavailability(of: .setPolicy) == nil)
        #expect(actions.unavailability(of: .retry)?.contains("Salesforce or EMR connection") == true)
        #expect(actions.unavailability(of: .push)?.contains("Salesforce and EMR connections") == true)
        #expect(actions.unavailability(of: .resolveConflict) != nil)
        #expect(actions.unavailability(of: .sync)?.contains("cycle") == true)
    }

    @Test func unIgnoringWithoutConnectionsPutsTheRowBackAmongTheFailuresInPlace() async throws {
        let (console, store, contents) = try await console({ store, mapping in Operations(store: store, mapping: mapping, inbound: nil) }, tab: .staged)
        let id = contents.failedRowIDs[0]
        _ = try await store.setStatus(rowIDs: [id], to: .ignored, from: [.failed], actor: .operator("bob"), note: "test patient")
        await console.press(.character("/"))
        await console.type("ignored\n")
        await console.press(.character("u"))
        await console.type("a real patient after all\n")
        #expect(console.screen.line(containing: "✓ un-ignored 1 row") != nil)
        #expect(console.screen.line(containing: "▸")?.contains("✗ failed") == true, "the row shows its new state in place")
        let row = try #require(try await store.row(id: id))
        #expect(row.status == .failed && row.note == "a real patient after all")
        #expect(try await store.history(ofRow: id).last?.actor == .operator("alice"))
        #expect(try await store.recentEvents(limit: 1).first?.message == "alice un-ignored 1 row (\(id))", "an event, without the reason typed")
    }

    @Test func takingTheEMRValueOfAnOpenConflictWritesItAndSaysSo() async throws {
        let target = InMemoryUpsertTarget()
        let (console, store, _) = try await console({ store, mapping in
            Operations(store: store, mapping: mapping, inbound: InboundLinker(store: store, target: target, mapping: mapping))
        }, tab: .conflicts)
        await console.press(.character("/"))
        await console.type("open\n")
        await console.press(.character("e"))
        await console.type("the EMR has the number the patient gave at intake\n")
        let id = try #require(await store.conflicts(ConflictQuery(statuses: [.resolved])).first?.id)
        #expect(console.screen.line(containing: "✓ conflict \(id) resolved: Contact p0 Phone takes the emr value +1 555 0100 (audited)") != nil)
        #expect(target.record("Contact", externalID: "p0")?["Phone"] == .text("+1 555 0100"))
        let resolved = try #require(await store.conflict(id: id))
        #expect(resolved.resolvedBy == .operator("alice") && resolved.reason == "the EMR has the number the patient gave at intake")
    }

    @Test func aPushTheEMRCannotTakeSaysWhyAndNamesItsJob() async throws {
        let emr = InMemoryResourceWriter()
        let target = InMemoryUpsertTarget()
        let (console, store, contents) = try await console({ store, mapping in
            Operations(
                store: store, mapping: mapping, inbound: InboundLinker(store: store, target: target, mapping: mapping),
                outbound: OutboundLinker(store: store, mapping: mapping, emr: emr, salesforce: target, integrationUserID: { "005STAGELINK" }),
                salesforceLookup: SeededLookup(), emrWriter: emr)
        }, tab: .staged)
        await console.press(.character("/"))
        await console.type("object:Admission__c\n")
        await console.press(.character("p"))
        let job = try #require(await store.jobs(before: nil, limit: 1).first)
        #expect(job.kind == .push && job.actor == .operator("alice"))
        #expect(console.screen.line(containing: "✗ push of a0B5g0000000099 failed (job \(job.id)): ENTITY_IS_DELETED: no Contact has this id") != nil)
        #expect(console.screen.line(containing: "▸")?.contains("✗ failed") == true, "the pushed row shows its new state in place")
        #expect(try await store.row(id: contents.admissionRowID)?.status == .failed)
    }
}
