import Foundation
import StagelinkEngine
import StagelinkStore
import Testing

@testable import Console

/// Theme files: the four shipped ones, mistakes named by key, NO_COLOR.
struct ThemeTests {
    @Test func theFourShippedThemesLoadAndNameEveryRole() throws {
        #expect(ConsoleFixture.themes.names == ["dark", "high-contrast", "light", "monochrome"])
        for name in ConsoleFixture.themes.names {
            let theme = try ConsoleFixture.themes.theme(named: name)
            #expect(theme.name == name)
            #expect(Set(theme.styles.keys) == Set(Role.allCases), "\(name) names every role")
        }
        let dark = try ConsoleFixture.themes.theme(named: "dark")
        #expect(dark.style(for: .cursor) == CellStyle(foreground: .index(0), background: .index(117), attributes: [.bold]))
        let monochrome = try ConsoleFixture.themes.theme(named: "monochrome")
        #expect(Role.allCases.allSatisfy { monochrome.style(for: $0).foreground == .terminalDefault && monochrome.style(for: $0).background == .terminalDefault })
    }

    @Test func aMistakeInAThemeFileNamesTheFileLineAndKey() throws {
        let unknownRole = """
            styles:
              status:
                okk: { fg: green }
            """
        #expect {
            try Theme(yaml: unknownRole, file: "themes/mine.yaml")
        } throws: { error in
            "\(error)" == "themes/mine.yaml:3:5: styles.status.okk: unknown key (expected one of error, inactive, ok, pending, warning)"
        }
        let badColour = """
            styles:
              table:
                cursor: { fg: blurple }
            """
        #expect {
            try Theme(yaml: badColour, file: "mine.yaml")
        } throws: { error in
            "\(error)".hasPrefix("mine.yaml:3:19: styles.table.cursor.fg: unknown colour \"blurple\"")
        }
        let badAttribute = "styles:\n  title: { attrs: [blink] }\n"
        #expect {
            try Theme(yaml: badAttribute, file: "mine.yaml")
        } throws: { error in
            "\(error)".contains("styles.title.attrs[0]: unknown attribute \"blink\" (expected one of bold, dim, italic, underline, reverse)")
        }
    }

    @Test func aPartialThemeKeepsTheDefaultsOfTheRolesItLeavesOut() throws {
        let theme = try Theme(yaml: "description: mine\nstyles:\n  title: { fg: \"#ff8800\" }\n", file: "mine.yaml")
        #expect(theme.style(for: .title).foreground == .rgb(red: 255, green: 136, blue: 0))
        #expect(theme.style(for: .cursor) == CellStyle(attributes: [.reverse]))
    }

    @Test func noColorKeepsAttributesAndTheCursorStillShows() throws {
        #expect(!ConsoleConfiguration.colourAllowed(environment: ["NO_COLOR": "1"]))
        #expect(ConsoleConfiguration.colourAllowed(environment: ["NO_COLOR": ""]))
        #expect(ConsoleConfiguration.colourAllowed(environment: [:]))
        let light = try ConsoleFixture.themes.theme(named: "light").withoutColour()
        #expect(Role.allCases.allSatisfy { light.style(for: $0).foreground == .terminalDefault && light.style(for: $0).background == .terminalDefault })
        #expect(light.style(for: .cursor).attributes == [.bold])
        #expect(light.style(for: .body).attributes.isEmpty)
        let configuration = ConsoleConfiguration(storePath: "x", themeName: "dark", themes: ConsoleFixture.themes, usesColour: false)
        #expect(try configuration.loadTheme().style(for: .tabActive).background == .terminalDefault)
    }

    @Test func theDefaultThemeFallsBackWhenNoThemeIsFoundButANamedOneMustExist() throws {
        let bare = ConsoleConfiguration(storePath: "x", themes: ThemeLibrary(folders: ["/nonexistent"], builtIn: [:]), usesColour: true)
        #expect(try bare.loadTheme() == .fallback)
        #expect(throws: ConfigurationError.self) { try bare.loadTheme(named: "light") }
    }

    @Test func theShippedThemesAreBuiltIntoTheBinaryAndAFileOfTheSameNameOverridesThem() throws {
        let installed = ThemeLibrary(folders: ["/nonexistent"])
        #expect(installed.names == ["dark", "high-contrast", "light", "monochrome"])
        for name in installed.names {
            #expect(try installed.theme(named: name) == ConsoleFixture.themes.theme(named: name))
        }
        let temporary = try TemporaryFolder("themes")
        let folder = temporary.url
        try Data("styles:\n  body: { fg: red }\n".utf8).write(to: folder.appendingPathComponent("dark.yaml"))
        let overridden = ThemeLibrary(folders: [folder.path])
        #expect(try overridden.theme(named: "dark").style(for: .body).foreground == ThemeColor("red"))
        #expect(try overridden.theme(named: "dark") != installed.theme(named: "dark"))
    }

    @Test func themeColoursMapToTheNearestColourTheTerminalHas() {
        #expect(TerminalColors.index(for: .rgb(red: 255, green: 0, blue: 0), available: 256) == 9)
        #expect(TerminalColors.index(for: .rgb(red: 0, green: 135, blue: 255), available: 256) == 33)
        #expect(TerminalColors.index(for: .index(203), available: 8) == 1)
        #expect(TerminalColors.index(for: .terminalDefault, available: 256) == -1)
    }
}
