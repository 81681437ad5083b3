/// What sits over the view and takes the keys until it is answered: a prompt, a yes/no question,
/// or a list to pick from.
enum Overlay {
    case prompt(PromptState)
    case confirm(ConfirmState)
    case choice(ChoiceState)
}

/// A line being typed: a `:` command, a `/` filter, a reason, an id.
struct PromptState {
    enum Purpose: Hashable {
        case command, filter, text
    }

    var purpose: Purpose
    var label: String
    var editor: LineEditor
    var placeholder: String
    /// Runs on Enter with the text typed.
    var submit: @MainActor (String) async -> Void
    /// Runs on every edit (the filter applies as it is typed).
    var edited: (@MainActor (String) -> Void)?
    /// Runs on Esc (the filter goes back to what it was).
    var cancelled: (@MainActor () async -> Void)?
}

struct ConfirmState {
    var title: String
    var lines: [StyledLine]
    var yes: @MainActor () async -> Void
}

struct ChoiceState {
    var title: String
    var choices: [StyledLine]
    var selected: Int
    var chosen: @MainActor (Int) async -> Void
}
