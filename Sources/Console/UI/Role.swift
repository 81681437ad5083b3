/// What a cell on the screen is, for styling: the vocabulary between the views and the theme.
///
/// Views never pick colours. They say "this is the selected row" or "this is an error", and a
/// theme maps each role to colours and attributes. Tests assert on roles, so a screen can be
/// checked without a terminal.
///
/// Each role has a key in a theme file: `table.cursor`, `status.error`, `json.key`; a dotted key
/// is a group and a name inside it.
public enum Role: String, Sendable, Hashable, CaseIterable {
    // MARK: - Frame

    /// Ordinary text.
    case body
    /// Secondary text: labels, timestamps, units.
    case muted
    /// The product name in the header.
    case logo
    /// Header values: the store, the endpoints, the service state.
    case header
    case border
    /// A frame's title: the view name, its filter and count.
    case title
    case tab = "tabs.normal"
    case tabActive = "tabs.active"
    case crumb = "crumbs.normal"
    case crumbActive = "crumbs.active"

    // MARK: - Tables

    case tableHeader = "table.header"
    /// The selected row.
    case cursor = "table.cursor"
    /// A row marked with space for an action on several rows.
    case marked = "table.marked"

    // MARK: - Meaning

    /// Linked, succeeded, resolved, running service.
    case ok = "status.ok"
    /// Failed rows and jobs, errors.
    case error = "status.error"
    /// Held rows, partial or interrupted jobs, open conflicts.
    case warning = "status.warning"
    /// Staged rows and running jobs: work not done yet.
    case pending = "status.pending"
    /// Superseded and ignored rows, decided conflicts, an idle service.
    case inactive = "status.inactive"

    // MARK: - Footer and dialogs

    case hintKey = "hints.key"
    case hint = "hints.label"
    case prompt = "prompt.text"
    case promptLabel = "prompt.label"
    case dialog = "dialog.body"
    case dialogTitle = "dialog.title"

    // MARK: - Detail

    /// A section heading in the detail pane.
    case section
    /// The payload line an error names.
    case highlight
    /// Text that matches the search typed with `/` in the detail pane (`n` / `N` move between them).
    case match
    /// A control character shown as its escape (`\u001b`), never sent to the terminal.
    case escaped
    case jsonKey = "json.key"
    case jsonString = "json.string"
    case jsonNumber = "json.number"
    case jsonLiteral = "json.literal"

    // MARK: - Live

    case progress
    case sparkline

    /// The key that names this role in a theme file.
    public var themeKey: String { rawValue }
}
