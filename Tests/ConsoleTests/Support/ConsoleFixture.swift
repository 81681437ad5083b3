@testable import Console
import Foundation
import StagelinkBenchmarks
import StagelinkEngine
import StagelinkStore
import Testing

/// A seeded store and a headless console over it, for one test.
@MainActor
struct ConsoleFixture {
    nonisolated static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    nonisolated static let themes = ThemeLibrary(folders: [repositoryRoot.appendingPathComponent("themes").path])

    let store: SQLiteStore
    let mapping: MappingDocument
    let contents: SeededStore.Contents
    let console: HeadlessConsole
    let now: Date

    /// A store of `rows` rows, `failures` of them failed, and a console on `tab`.
    static func make(
        rows: Int = 300, failures: Int = 40, tab: ConsoleTab = .staged, width: Int = 120, height: Int = 40, readOnly: Bool = false,
        actions: (any ConsoleActions)? = nil, configure: (inout ConsoleConfiguration) -> Void = { _ in }
    ) async throws -> ConsoleFixture {
        let store = try SQLiteStore.temporary("console-tests")
        let mapping = try MappingDocument.load(contentsOf: repositoryRoot.appendingPathComponent("config/mapping.yaml").path)
        let now = Date()
        let contents = try await SeededStore.fill(store, mapping: mapping, rows: rows, failures: failures, now: now)
        var configuration = configuration(store: store, mapping: mapping, now: now, tab: tab, readOnly: readOnly)
        configure(&configuration)
        let console = try HeadlessConsole(
            store: store, actions: actions ?? RecordingActions(), configuration: configuration, width: width, height: height)
        await console.start()
        return ConsoleFixture(store: store, mapping: mapping, contents: contents, console: console, now: now)
    }

    static func configuration(store: SQLiteStore, mapping: MappingDocument, now: Date, tab: ConsoleTab, readOnly: Bool) -> ConsoleConfiguration {
        ConsoleConfiguration(
            storePath: store.path, endpoints: .init(emr: "https://emr.example.org/fhir", salesforce: "https://acme.my.salesforce.com"), mapping: mapping,
            themes: themes, usesColour: true, readOnly: readOnly, operatorName: "alice", initialTab: tab, timeZone: TimeZone(identifier: "UTC")!,
            clock: { now })
    }

    var screen: Screen { console.screen }
}

/// Actions that record what they were asked and answer with a canned outcome.
final class RecordingActions: ConsoleActions, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [(ConsoleAction, String)] = []
    var unavailable: [ConsoleAction.Kind: String] = [:]
    var outcome: @Sendable (ConsoleAction) -> ActionOutcome = { action in ActionOutcome(summary: "did \(action.kind.rawValue)") }

    var performed: [ConsoleAction] { lock.withLock { recorded.map(\.0) } }
    var operators: [String] { lock.withLock { recorded.map(\.1) } }

    func unavailability(of kind: ConsoleAction.Kind) -> String? { unavailable[kind] }

    func perform(_ action: ConsoleAction, by operatorName: String) async throws -> ActionOutcome {
        lock.withLock { recorded.append((action, operatorName)) }
        return outcome(action)
    }
}

extension Screen {
    /// The cells of the first occurrence of `text`, in the row where it first appears.
    func cells(of text: String) -> [Cell]? {
        guard let row = row(containing: text), let column = column(of: text, row: row) else { return nil }
        var cells: [Cell] = []
        var x = column
        while x < column + DisplayWidth.of(text) {
            cells.append(self[x, row])
            x += 1
        }
        return cells.filter { !$0.isContinuation }
    }

    /// The role of the first cell of `text`.
    func role(of text: String) -> Role? { cells(of: text)?.first?.role }

    /// The whole row that contains `text`.
    func line(containing text: String) -> String? { row(containing: text).map { self.text(row: $0) } }
}
