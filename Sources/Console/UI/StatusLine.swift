/// The flash line above the hints: what an action is doing (with a spinner) or how it ended.
struct StatusLine {
    enum Level: Hashable {
        case info, success, warning, failure

        var role: Role {
            switch self {
            case .info: .body
            case .success: .ok
            case .warning: .warning
            case .failure: .error
            }
        }

        /// Colour is never the only signal: each level has a symbol too.
        var symbol: String {
            switch self {
            case .info: "ℹ"
            case .success: "✓"
            case .warning: "!"
            case .failure: "✗"
            }
        }
    }

    static let spinner: [Character] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

    var message: String?
    var level: Level = .info
    /// Set while an action runs: the spinner frame to show.
    var spinnerFrame: Int?

    func draw(into screen: inout Screen, area: Rect) {
        screen.fill(area, role: .body)
        guard let message else { return }
        let symbol = spinnerFrame.map { String(Self.spinner[$0 % Self.spinner.count]) } ?? level.symbol
        let role = spinnerFrame == nil ? level.role : .pending
        let x = screen.write("\(symbol) ", x: area.x + 1, y: area.y, role: role)
        screen.write(message, x: x, y: area.y, role: role, limit: area.maxX - x)
    }
}
