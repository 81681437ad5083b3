/// Where the person is, as a path of breadcrumbs (`staged › failed › row 123`); Esc walks back
/// along it.
struct Crumbs {
    var path: [String]

    func draw(into screen: inout Screen, area: Rect) {
        screen.fill(area, role: .body)
        var x = area.x + 1
        for (index, crumb) in path.enumerated() {
            let isLast = index == path.count - 1
            x = screen.write(" \(crumb) ", x: x, y: area.y, role: isLast ? .crumbActive : .crumb, limit: area.maxX - x)
            if !isLast { x = screen.write(" › ", x: x, y: area.y, role: .muted, limit: area.maxX - x) }
        }
    }
}
