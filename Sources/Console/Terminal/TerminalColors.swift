/// The 256 colours of an xterm-compatible terminal, for mapping a theme's `#rrggbb` to the
/// nearest colour the terminal has, and a 256-colour index down to 16 or 8 colours.
enum TerminalColors {
    /// The RGB value of an xterm colour index.
    static func rgb(_ index: Int) -> (Int, Int, Int) {
        switch index {
        case 0..<16:
            let system = [
                (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
                (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
            ]
            return system[index]
        case 16..<232:
            let levels = [0, 95, 135, 175, 215, 255]
            let cube = index - 16
            return (levels[cube / 36], levels[cube / 6 % 6], levels[cube % 6])
        default:
            let grey = 8 + 10 * (min(index, 255) - 232)
            return (grey, grey, grey)
        }
    }

    /// The index below `available` closest to `rgb`.
    static func nearest(_ rgb: (Int, Int, Int), available: Int) -> Int {
        var best = 0
        var bestDistance = Int.max
        for index in 0..<max(1, min(available, 256)) {
            let candidate = self.rgb(index)
            let distance = square(candidate.0 - rgb.0) + square(candidate.1 - rgb.1) + square(candidate.2 - rgb.2)
            if distance < bestDistance {
                best = index
                bestDistance = distance
            }
        }
        return best
    }

    /// The terminal colour for a theme colour: -1 for the terminal's default.
    static func index(for color: ThemeColor, available: Int) -> Int {
        switch color {
        case .terminalDefault: -1
        case .index(let index): index < available ? index : nearest(rgb(index), available: available)
        case .rgb(let red, let green, let blue): nearest((red, green, blue), available: available)
        }
    }

    private static func square(_ value: Int) -> Int { value * value }
}
