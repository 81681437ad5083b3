import Foundation

/// A new folder in the temporary directory, for a test or a benchmark, removed with everything in
/// it when the last reference to it goes.
///
/// A store made by ``SQLiteStore/temporary(_:encrypted:)`` holds its folder, so the folder goes
/// with the store. Files still open then (a store's connections closing a moment later) are
/// unlinked like any other: on Linux their space is freed when the last descriptor closes.
///
/// ```swift
/// let folder = try TemporaryFolder("store-cli")
/// try "store: store.sqlite\n".write(toFile: folder.file("stagelink.yaml"), atomically: true, encoding: .utf8)
/// ```
public final class TemporaryFolder: Sendable {
    /// The folder.
    public let url: URL

    /// Creates `<temporary directory>/<name>-<UUID>`.
    public init(_ name: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The folder's path.
    public var path: String { url.path }

    /// The path of `name` inside the folder.
    public func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}
