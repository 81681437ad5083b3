import StagelinkEngine

/// Columns of text for a terminal, sized by display width (wide characters take two columns) and
/// with every cell's control characters escaped.
struct TextTable {
    var headers: [String]
    var rows: [[String]] = []

    init(_ headers: String...) {
        self.headers = headers
    }

    mutating func add(_ cells: String...) {
        rows.append(cells.map { DisplayText.escaped($0) })
    }

    mutating func add(_ cells: [String]) {
        rows.append(cells.map { DisplayText.escaped($0) })
    }

    /// The table as lines; the last column is not padded. Cells wider than `maximumWidth` are cut.
    func render(maximumWidth: Int = 60) -> String {
        let widths = headers.indices.map { column in
            min(maximumWidth, ([headers[column]] + rows.map { $0[column] }).map(DisplayText.width).max() ?? 0)
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : DisplayText.fit(cell, columns: widths[index])
            }.joined(separator: "  ")
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }
}
