import ArgumentParser
import Foundation
import StagelinkDefaults
import StagelinkEngine

/// Where a command's mapping comes from: the file named by `--mapping` or by the configuration's
/// `mapping:` (which must exist), else `config/mapping.yaml` in the current folder, else the copy
/// built into the binary, so that an installed `stagelink` works from any folder.
enum MappingFile {
    /// The conventional place of the mapping, relative to the current folder.
    static let conventionalPath = "config/mapping.yaml"

    /// The mapping's text and the name errors use for it.
    static func source(_ named: String?) throws -> (yaml: String, file: String) {
        if let named {
            guard FileManager.default.fileExists(atPath: named) else {
                throw ValidationError("No mapping file at \(named).")
            }
            return (try String(contentsOfFile: named, encoding: .utf8), named)
        }
        if FileManager.default.fileExists(atPath: conventionalPath) {
            return (try String(contentsOfFile: conventionalPath, encoding: .utf8), conventionalPath)
        }
        return (BuiltInFiles.mapping, BuiltInFiles.mappingName)
    }

    /// The mapping document, read from `source(named)`.
    static func load(_ named: String?) throws -> MappingDocument {
        if let named {
            guard FileManager.default.fileExists(atPath: named) else { throw ValidationError("No mapping file at \(named).") }
            return try MappingDocument.load(contentsOf: named)
        }
        let source = try source(nil)
        return try MappingDocument(yaml: source.yaml, file: source.file)
    }
}
