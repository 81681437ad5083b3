import Foundation
import StagelinkDefaults
import StagelinkEngine

/// Where theme files are looked for, in order: `$STAGELINK_THEMES`, `./themes`, and `themes` or
/// `share/stagelink/themes` beside the executable; then the themes built into the binary, so that
/// an installed copy finds them from any folder (a file of the same name overrides its built-in copy).
///
/// For example:
///
/// ```swift
/// let library = ThemeLibrary.standard()
/// library.names            // ["dark", "high-contrast", "light", "monochrome"]
/// try library.theme(named: "light")
/// ```
public struct ThemeLibrary: Sendable, Hashable {
    public var folders: [String]
    /// Theme YAML by name, looked at after every folder.
    public var builtIn: [String: String]

    public init(folders: [String], builtIn: [String: String] = BuiltInFiles.themes) {
        self.folders = folders
        self.builtIn = builtIn
    }

    /// The usual folders for this process.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> ThemeLibrary {
        var folders: [String] = []
        if let custom = environment["STAGELINK_THEMES"], !custom.isEmpty { folders.append(custom) }
        folders.append(FileManager.default.currentDirectoryPath + "/themes")
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        folders.append(executable.appendingPathComponent("themes").path)
        folders.append(executable.deletingLastPathComponent().appendingPathComponent("share/stagelink/themes").path)
        return ThemeLibrary(folders: folders)
    }

    /// The themes found, by name: files in the folders and the built-in ones.
    public var names: [String] {
        var found = Set(builtIn.keys)
        for folder in folders {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for file in files where file.hasSuffix(".yaml") { found.insert(String(file.dropLast(5))) }
        }
        return found.sorted()
    }

    /// Loads a theme by name, or from a path when `name` names a file (`./mine.yaml`).
    public func theme(named name: String) throws(ConfigurationError) -> Theme {
        if name.contains("/") || name.hasSuffix(".yaml") { return try Theme.load(contentsOf: name) }
        for folder in folders {
            let path = folder + "/" + name + ".yaml"
            if FileManager.default.fileExists(atPath: path) { return try Theme.load(contentsOf: path) }
        }
        if let yaml = builtIn[name] { return try Theme(yaml: yaml, file: BuiltInFiles.themeName(name)) }
        let known = names
        let hint = known.isEmpty ? "no theme files were found in \(folders.joined(separator: ", "))" : "known themes: \(known.joined(separator: ", "))"
        throw ConfigurationError(file: name, line: nil, column: nil, key: "", message: "no such theme (\(hint))")
    }
}
