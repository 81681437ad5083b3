/// The files a Stagelink binary carries inside itself, so that an installed copy runs its demo and
/// its console from any folder: the default mapping (`config/mapping.yaml`) and the themes
/// (`themes/*.yaml`), embedded at build time from those very files (SwiftPM's `embedInCode`, no
/// resource bundle to lose when the binary is copied elsewhere). A file on disk overrides its
/// built-in copy wherever the commands look for one.
///
/// For example:
///
/// ```swift
/// let mapping = try MappingDocument(yaml: BuiltInFiles.mapping, file: BuiltInFiles.mappingName)
/// BuiltInFiles.themes["dark"]   // the dark theme's YAML
/// ```
public enum BuiltInFiles {
    /// How errors name the built-in mapping (it has no path).
    public static let mappingName = "built-in:config/mapping.yaml"

    /// The default mapping and policy, as `config/mapping.yaml` held it when this binary was built.
    public static var mapping: String { String(decoding: PackageResources.mapping_yaml, as: UTF8.self) }

    /// The themes shipped in `themes/`, by name.
    public static var themes: [String: String] {
        [
            "dark": String(decoding: PackageResources.theme_dark_yaml, as: UTF8.self),
            "light": String(decoding: PackageResources.theme_light_yaml, as: UTF8.self),
            "high-contrast": String(decoding: PackageResources.theme_high_contrast_yaml, as: UTF8.self),
            "monochrome": String(decoding: PackageResources.theme_monochrome_yaml, as: UTF8.self),
        ]
    }

    /// How errors name a built-in theme.
    public static func themeName(_ name: String) -> String { "built-in:themes/\(name).yaml" }
}
