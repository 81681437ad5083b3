/// Where each part of the screen goes: header, tabs, the view's body, crumbs, status line, hints.
struct ConsoleLayout {
    static let minimumWidth = 80
    static let minimumHeight = 24

    let width: Int
    let height: Int

    var fits: Bool { width >= Self.minimumWidth && height >= Self.minimumHeight }

    var header: Rect { Rect(x: 0, y: 0, width: width, height: HeaderView.height) }
    var tabs: Rect { Rect(x: 0, y: HeaderView.height, width: width, height: 1) }
    var body: Rect { Rect(x: 0, y: HeaderView.height + 1, width: width, height: height - HeaderView.height - 4) }
    var crumbs: Rect { Rect(x: 0, y: height - 3, width: width, height: 1) }
    var status: Rect { Rect(x: 0, y: height - 2, width: width, height: 1) }
    var hints: Rect { Rect(x: 0, y: height - 1, width: width, height: 1) }

    /// Below 80×24 the console says so instead of drawing a broken screen.
    static func drawTooSmall(into screen: inout Screen) {
        screen.fill(screen.bounds, role: .body)
        let lines = [
            StyledLine("Stagelink needs a terminal of at least \(minimumWidth)×\(minimumHeight).", .warning),
            StyledLine("This one is \(screen.width)×\(screen.height): make the window larger, or press q to quit.", .body),
        ]
        let top = max(0, screen.height / 2 - 1)
        for (offset, line) in lines.enumerated() {
            let x = max(0, (screen.width - line.width) / 2)
            screen.write(line, x: x, y: top + offset)
        }
    }
}
