import Logging
import Synchronization

/// Collects every log record in memory, for tests that read what a client logged; made with
/// `Logger(label:factory:)`, never through `LoggingSystem.bootstrap`.
public final class LogCapture: Sendable {
    public struct Record: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: Logger.Metadata

        /// The message and every metadata key and value, as one line of text.
        public var line: String {
            let fields = metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            return ([level.rawValue, message] + fields).joined(separator: " ")
        }
    }

    private let records = Mutex<[Record]>([])

    public init() {}

    /// A logger at `trace` whose records land here.
    public func logger(label: String = "test") -> Logger {
        var logger = Logger(label: label) { _ in Handler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    public var all: [Record] { records.withLock { $0 } }

    /// Every record as text, one line each.
    public var text: String { all.map(\.line).joined(separator: "\n") }

    fileprivate func append(_ record: Record) {
        records.withLock { $0.append(record) }
    }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var merged = metadata
            if let extra = event.metadata { merged.merge(extra) { $1 } }
            capture.append(Record(level: event.level, message: "\(event.message)", metadata: merged))
        }
    }
}
