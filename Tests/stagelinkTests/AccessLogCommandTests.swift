import Foundation
import StagelinkEngine
import StagelinkStore
import Testing

/// `stagelink show` and `stagelink why` record who read which row; `stagelink audit access` lists it.
struct AccessLogCommandTests {
    @Test func showAndWhyAreLoggedWithTheOperatorAndProcessAndAuditAccessListsThem() async throws {
        let temporary = try TemporaryFolder("access-cli")
        let folder = temporary.url
        let (store, _, contactKey) = try await HostileOutputTests.hostileStore(in: folder)
        let options = ["--store", store.path, "--mapping", HostileOutputTests.root.appendingPathComponent("config/mapping.yaml").path]
        let row = try #require(try await store.rows(RowQuery(filter: RowFilter(statuses: [.failed]), limit: 1)).first)

        let shown = try await HostileOutputTests.run(["show", String(row.id), "--operator", "alice"] + options, in: folder)
        #expect(shown.status == 0, "\(shown.stderr)")
        let why = try await HostileOutputTests.run(["why", "Contact", contactKey, "LastName", "--operator", "bob"] + options, in: folder)
        #expect(why.status == 0, "\(why.stderr)")

        let log = try await store.accessLog(AccessQuery())
        #expect(log.count == 2)
        #expect(log.last?.rowID == row.id && log.last?.operatorName == "alice" && log.last?.via == .show)
        #expect(log.last?.process.contains("stagelink (pid ") == true, "\(log.last?.process ?? "")")
        #expect(log.first?.operatorName == "bob" && log.first?.via == .why)

        let listed = try await HostileOutputTests.run(["audit", "access", "--row", String(row.id)] + options, in: folder)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("alice") && listed.stdout.contains("show"))
        #expect(!listed.stdout.contains("bob"), "only that row's reads")
        #expect(listed.stdout.contains("1 reads"))
        let byOperator = try await HostileOutputTests.run(["audit", "access", "--operator", "bob", "--json"] + options, in: folder)
        let entries = try #require(try JSONValue(parsing: Array(byOperator.stdout.utf8)).arrayValue)
        #expect(entries.count == 1 && entries[0]["via"]?.stringValue == "why")
    }
}
