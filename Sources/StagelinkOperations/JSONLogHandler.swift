import Foundation
import Logging
import StagelinkEngine

/// `logging.format: json`: each log message as one JSON object on one line of standard error, for
/// log shippers: `{"time","level","label","message","metadata":{…}}`. The message and metadata are
/// the same as in the text format (which never holds patient data or secrets); JSON escaping keeps
/// every line one line, whatever a value holds.
///
/// For example:
///
/// ```swift
/// LoggingSystem.bootstrap { label in JSONLogHandler(label: label) }
/// // {"time":"2026-12-01T15:04:05.123Z","level":"notice","label":"stagelink","message":"cycle finished","metadata":{"sync.status":"succeeded"}}
/// ```
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let write: @Sendable (String) -> Void

    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil, write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let own = event.metadata { merged.merge(own) { _, new in new } }
        var fields: [JSONObject.Member] = [
            .init(key: "time", value: .string(Timestamp.format(Date()))), .init(key: "level", value: .string(event.level.rawValue)),
            .init(key: "label", value: .string(label)), .init(key: "message", value: .string(event.message.description)),
        ]
        if !merged.isEmpty {
            fields.append(.init(key: "metadata", value: .object(JSONObject(merged.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: Self.json($0.value)) }))))
        }
        write(JSONWriter.compactString(.object(JSONObject(fields))) + "\n")
    }

    static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let convertible): .string(convertible.description)
        case .array(let values): .array(values.map(json))
        case .dictionary(let values): .object(JSONObject(values.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: json($0.value)) }))
        }
    }

    /// Writes a line to standard error in one call, so that lines of concurrent tasks never interleave.
    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data(line.utf8))
    }
}
