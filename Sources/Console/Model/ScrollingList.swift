/// A list the cursor moves through with the usual keys; each kind of list decides what it reads.
@MainActor
protocol ScrollingList: AnyObject {
    func up() async throws
    func down() async throws
    func pageUp() async throws
    func pageDown() async throws
    func top() async throws
    func bottom() async throws
}

extension RowList: ScrollingList {}
extension NewestFirstList: ScrollingList {}
