import Foundation
import StagelinkEngine
import StagelinkFakes
import StagelinkStore
import StagelinkTestSupport
import Testing

/// Every command's text output, run as a user runs it (the built `stagelink` binary), over a store
/// holding the hostile corpus: payloads, ids, versions, remote error messages and bodies, names,
/// conflict values, operator names and reasons carrying terminal escapes, C0 and C1 controls,
/// bidirectional controls and line separators. None of them reaches standard output or standard
/// error raw; each is shown escaped.
struct HostileOutputTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// One of each kind of character a terminal obeys or that reorders or breaks the text around it.
    static let probe = [
        "\u{1B}[2J", "\u{1B}]0;owned\u{07}", "\u{9B}31m", "\u{08}", "\r", "\u{7F}", "\u{202E}", "\u{202A}", "\u{2066}", "\u{2069}",
        "\u{200E}", "\u{200F}", "\u{061C}", "\u{2028}", "\u{2029}",
    ].joined(separator: "x")
    /// The probe without the controls that mapping refuses: what links into a Salesforce value.
    static let linkable = "Mül\u{202E}ler\u{2066}x\u{2069}\u{200F}\u{061C}\u{2028}y\u{2029}"

    /// The characters no output may hold raw, decided here independently of `DisplayText`.
    static func unsafeCharacters(in text: String) -> [String] {
        text.unicodeScalars.filter { scalar in
            let value = scalar.value
            return (value < 0x20 && value != 0x0A && value != 0x09) || (0x7F...0x9F).contains(value) || value == 0x061C
                || (0x200E...0x200F).contains(value) || (0x202A...0x202E).contains(value) || (0x2066...0x2069).contains(value)
                || value == 0x2028 || value == 0x2029
        }.map { "U+" + String($0.value, radix: 16, uppercase: true) }
    }

    /// The `stagelink` executable the tests were built with.
    static func executable() throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("stagelink"),
            root.appendingPathComponent(".build/debug/stagelink"),
        ]
        return try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }, "build the stagelink product first")
    }

    /// Runs `stagelink arguments` in `folder` and returns what it printed on each stream
    /// (``ChildProcess``: not Foundation's `Process`, whose `run()` crashes a process holding as
    /// many descriptors as this one does at its peak).
    static func run(_ arguments: [String], in folder: URL) async throws -> (stdout: String, stderr: String, status: Int32) {
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "STAGELINK_CONFIG")
        environment.removeValue(forKey: "STAGELINK_CRASH_AT")
        let out = folder.appendingPathComponent("out-\(UUID().uuidString)")
        let err = folder.appendingPathComponent("err-\(UUID().uuidString)")
        let status = try await ChildProcess.run(
            try executable().path, arguments, environment: environment, directory: folder.path, standardOutput: out.path, standardError: err.path)
        return (
            String(decoding: try Data(contentsOf: out), as: UTF8.self), String(decoding: try Data(contentsOf: err), as: UTF8.self), status
        )
    }

    /// A store holding every file of the hostile corpus as a staged row, failed rows whose
    /// remote error quotes the probe, linked values and conflicts holding the linkable probe.
    static func hostileStore(in folder: URL) async throws -> (store: SQLiteStore, mapping: MappingDocument, contactKey: String) {
        let store = try SQLiteStore(path: folder.appendingPathComponent("hostile.sqlite").path)
        let mappingPath = root.appendingPathComponent("config/mapping.yaml").path
        let mapping = try MappingDocument.load(contentsOf: mappingPath)
        try await mapping.loadPolicy(into: store)
        let lastUpdated = Date(timeIntervalSince1970: 1_790_000_000)

        var records: [IncomingRecord] = []
        let corpus = root.appendingPathComponent("Tests/HostileInputs")
        for type in try FileManager.default.contentsOfDirectory(atPath: corpus.path).sorted() where !type.hasSuffix(".py") {
            for outcome in ["fails", "links"] {
                let folder = corpus.appendingPathComponent(type).appendingPathComponent(outcome)
                for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()) ?? [] where name.hasSuffix(".json") {
                    let payload = try Data(contentsOf: folder.appendingPathComponent(name))
                    records.append(
                        IncomingRecord(
                            system: .emr, resourceType: type, sourceID: "hx-\(name.dropLast(5))", version: "1", lastUpdated: lastUpdated,
                            payload: Array(payload)))
                }
            }
        }
        try #require(records.count > 30, "the hostile corpus is there")
        // The probe in the places a row's own text is printed: its id and version.
        records.append(
            IncomingRecord(
                system: .emr, resourceType: "Patient", sourceID: "id\(probe)", version: "v\(probe)", lastUpdated: lastUpdated,
                payload: Array(#"{"resourceType":"Patient","id":"probe"}"#.utf8)))
        _ = try await store.stage(records, job: nil, advancing: nil)

        // Salesforce refuses one Contact with an error that quotes the probe, as its messages quote ids.
        let target = InMemoryUpsertTarget()
        target.failRecords { _, fields in
            fields["LastName"] == .text("Refused") ? LinkError(code: "INVALID_FIELD", message: "bad value \(probe)", fields: ["LastName"], remoteBody: "[{\"message\":\"\(probe)\"}]") : nil
        }
        func patient(_ id: String, family: String, version: Int) -> IncomingRecord {
            let resource: JSONValue = [
                "resourceType": "Patient", "id": .string(id),
                "meta": ["versionId": .string(String(version)), "lastUpdated": .string(Timestamp.format(lastUpdated.addingTimeInterval(Double(version) * 60)))],
                "name": [["family": .string(family), "given": [.string("Zo\u{202E}ë")]]], "birthDate": "1984-02-29", "gender": "female",
            ]
            return IncomingRecord(
                system: .emr, resourceType: "Patient", sourceID: id, version: String(version),
                lastUpdated: lastUpdated.addingTimeInterval(Double(version) * 60), payload: JSONWriter.compact(resource))
        }
        _ = try await store.stage([patient("p1", family: linkable, version: 1), patient("p2", family: "Refused", version: 1)], job: nil, advancing: nil)
        let emr = InMemoryResourceWriter()
        let inbound = InboundLinker(store: store, target: target, mapping: mapping)
        let outbound = OutboundLinker(store: store, mapping: mapping, emr: emr, salesforce: target, integrationUserID: { "005STAGELINK" })
        func link() async throws {
            try await outbound.observePending()
            let recorder = try await JobRecorder.start(.link, direction: .inbound, actor: .system, store: store, meters: [target.meter], logger: .init(label: "test"))
            try await inbound.linkPending(recorder: recorder, stop: StopSignal())
            _ = try await recorder.finish()
            let back = try await JobRecorder.start(.link, direction: .outbound, actor: .system, store: store, meters: [], logger: .init(label: "test"))
            try await outbound.linkPending(recorder: back, stop: StopSignal())
            _ = try await back.finish()
        }
        try await link()
        let contactID = try #require(target.records(of: "Contact").first { $0.value["EMR_Patient_Id__c"] == .text("p1") }?.key)

        // Both sides change the last name: a conflict whose two values hold the linkable probe.
        let contact: JSONObject = [
            "attributes": ["type": "Contact", "url": .string("/services/data/v60.0/sobjects/Contact/\(contactID)")],
            "Id": .string(contactID), "SystemModstamp": .string(Timestamp.format(lastUpdated.addingTimeInterval(120))), "LastModifiedById": "005HUMAN",
            "EMR_Patient_Id__c": "p1", "FirstName": .string("Zo\u{202E}ë"), "LastName": .string("Smith\(linkable)"), "Birthdate": "1984-02-29",
            "Gender__c": "Female",
        ]
        _ = try await store.stage(
            [
                IncomingRecord(
                    system: .salesforce, resourceType: "Contact", sourceID: contactID, version: nil, lastUpdated: lastUpdated.addingTimeInterval(120),
                    payload: JSONWriter.compact(.object(contact))),
                patient("p1", family: "Schmidt\(linkable)", version: 2),
            ], job: nil, advancing: nil)
        try await link()
        return (store, mapping, "p1")
    }

    @Test func everyCommandsTextOutputShowsHostileTextEscaped() async throws {
        let temporary = try TemporaryFolder("hostile-output")
        let folder = temporary.url
        let (store, _, contactKey) = try await Self.hostileStore(in: folder)
        let mapping = Self.root.appendingPathComponent("config/mapping.yaml").path
        let options = ["--store", store.path, "--mapping", mapping]
        let operatorProbe = Self.probe.replacingOccurrences(of: "\r", with: "")

        let failed = try await store.rows(RowQuery(filter: RowFilter(statuses: [.failed]), limit: 10_000))
        let everyRow = try await store.rows(RowQuery(limit: 10_000))
        try #require(everyRow.count > 30)
        try #require(failed.contains { $0.errorMessage?.contains("bad value") == true }, "Salesforce's error quoting the probe is stored")
        try #require(try await store.countConflicts(status: nil) > 0, "a conflict holds the probe")

        var commands: [[String]] = [
            ["rows", "--limit", "10000"], ["rows", "--status", "failed", "--limit", "10000"], ["jobs"], ["conflicts"],
            ["why", "Contact", contactKey, "LastName"], ["why", "Contact", contactKey, "FirstName"], ["policy", "show"], ["status"],
            ["policy", "set", "Contact.Phone", "emr", "--reason", "because \(operatorProbe)", "--operator", "op\(operatorProbe)"], ["policy", "audit"],
            ["ignore", String(try #require(failed.first).id), "--reason", "r\(operatorProbe)", "--operator", "op\(operatorProbe)"],
            // An error on the way out names a file holding the probe: the path the process stops with.
            ["rows", "--store", store.path, "--mapping", folder.appendingPathComponent("m\(operatorProbe).yaml").path],
        ]
        commands += everyRow.map { ["show", String($0.id)] }
        // A read logged under a hostile operator name, then the access log that lists it.
        commands += [["show", String(everyRow[0].id), "--operator", "op\(operatorProbe)"], ["audit", "access", "--limit", "10000"]]
        var sawEscapes = 0
        for command in commands {
            let arguments = command.first == "rows" && command.contains("--mapping") ? command : command + options
            let output = try await Self.run(arguments, in: folder)
            #expect(Self.unsafeCharacters(in: output.stdout) == [], "stdout of stagelink \(command.joined(separator: " "))")
            #expect(Self.unsafeCharacters(in: output.stderr) == [], "stderr of stagelink \(command.joined(separator: " "))")
            if (output.stdout + output.stderr).contains("\\u{202e}") || (output.stdout + output.stderr).contains("\\u{1b}") { sawEscapes += 1 }
        }
        // The probe was printed (escaped), not merely absent: by the listings, show, why, conflicts, the audit and the error path.
        #expect(sawEscapes > 10)
    }

    @Test func jsonOutputStaysJSONAndHoldsNoRawBidiOrSeparator() async throws {
        let temporary = try TemporaryFolder("hostile-json")
        let folder = temporary.url
        let (store, _, contactKey) = try await Self.hostileStore(in: folder)
        let options = ["--store", store.path, "--mapping", Self.root.appendingPathComponent("config/mapping.yaml").path, "--json"]
        let probeRow = try #require(try await store.rows(RowQuery(limit: 10_000)).first { $0.sourceID.hasPrefix("id") })
        for command in [["rows"], ["conflicts"], ["jobs"], ["why", "Contact", contactKey, "LastName"], ["show", String(probeRow.id)]] {
            let output = try await Self.run(command + options, in: folder)
            #expect(output.status == 0, "stagelink \(command.joined(separator: " ")) --json: \(output.stderr)")
            #expect(Self.unsafeCharacters(in: output.stdout.replacingOccurrences(of: "\n", with: "")) == [])
            #expect((try? JSONValue(parsing: Array(output.stdout.utf8))) != nil, "stagelink \(command.joined(separator: " ")) --json prints JSON")
        }
        // The JSON still carries the exact text: a script decoding it gets the probe back.
        let show = try await Self.run(["show", String(probeRow.id)] + options, in: folder)
        let decoded = try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any]
        let row = try #require(decoded?["row"] as? [String: Any])
        #expect(row["sourceID"] as? String == "id\(Self.probe)")
    }
}
