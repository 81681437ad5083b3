/// The numbered views along the top (`1 Live  2 Staged …`), the current one highlighted; the
/// right end says who is at the keyboard and whether actions are allowed.
struct TabBar {
    var tabs: [String]
    var current: Int?
    var trailing: StyledLine

    func draw(into screen: inout Screen, area: Rect) {
        screen.fill(area, role: .body)
        var x = area.x + 1
        for (index, title) in tabs.enumerated() {
            let role: Role = index == current ? .tabActive : .tab
            x = screen.write(" \(index + 1) \(title) ", x: x, y: area.y, role: role, limit: area.maxX - x) + 1
        }
        let width = trailing.width
        if area.maxX - 1 - width > x { screen.write(trailing, x: area.maxX - 1 - width, y: area.y) }
    }
}
