import Foundation
import Logging
import StagelinkEngine
import Synchronization
import Testing

@testable import StagelinkOperations

/// `logging.format: json`: one JSON object per line, whatever the message holds.
struct JSONLogHandlerTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    @Test func eachMessageIsOneJSONObjectOnOneLine() throws {
        let captured = Lines()
        var logger = Logger(label: "stagelink") { label in JSONLogHandler(label: label, write: captured.append) }
        logger.logLevel = .info
        logger[metadataKey: "service"] = "run"
        logger.notice("cycle finished\nsecond line \u{1B}[2J", metadata: ["sync.status": "partial", "job.ids": .array(["4", "5"])])
        logger.debug("not at this level")
        let lines = captured.all
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        #expect(line.hasSuffix("\n"))
        #expect(line.dropLast().contains("\n") == false)
        let object = try JSONValue(parsing: Array(line.utf8))
        #expect(object["level"]?.stringValue == "notice")
        #expect(object["label"]?.stringValue == "stagelink")
        #expect(object["message"]?.stringValue == "cycle finished\nsecond line \u{1B}[2J")
        #expect(object["metadata"]?["sync.status"]?.stringValue == "partial")
        #expect(object["metadata"]?["service"]?.stringValue == "run")
        #expect(object["metadata"]?["job.ids"]?.arrayValue?.count == 2)
        #expect(object["time"]?.stringValue?.hasSuffix("Z") == true)
    }
}
