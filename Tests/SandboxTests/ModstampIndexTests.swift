import Testing

@testable import Sandbox

/// The org's `SystemModstamp` index: each record once, at its latest stamp, in stamp order.
struct ModstampIndexTests {
    @Test func aRecordStampedAgainIsFoundOnceAtItsLatestStamp() {
        var index = ModstampIndex()
        index.stamp("a", at: 10)
        index.stamp("b", at: 20)
        index.stamp("a", at: 30)
        index.stamp("c", at: 30)
        #expect(index.ids(stampedSince: 0) == ["b", "a", "c"])
        #expect(index.ids(stampedSince: 21) == ["a", "c"])
        #expect(index.ids(stampedSince: 31).isEmpty)
    }

    @Test func aWindowReadsOnlyTheRecordsStampedWithinIt() {
        var index = ModstampIndex()
        for (id, stamp) in [("a", 10), ("b", 20), ("c", 20), ("d", 30), ("e", 40)] { index.stamp(id, at: Int64(stamp)) }
        index.stamp("a", at: 35)
        #expect(index.ids(stampedSince: 20, before: 40) == ["b", "c", "d", "a"])
        #expect(index.ids(stampedSince: 20, before: 21) == ["b", "c"])
        #expect(index.ids(stampedSince: 11, before: 20).isEmpty, "a's stamp of 10 is stale")
        #expect(index.ids(stampedSince: 30, before: 10).isEmpty, "an end before the start holds nothing")
    }

    @Test func anEarlierStampTakesItsPlaceAndARemovedRecordIsGone() {
        var index = ModstampIndex()
        index.stamp("late", at: 50)
        index.stamp("seed", at: 5)
        index.stamp("middle", at: 20)
        index.remove("middle")
        #expect(index.ids(stampedSince: 0) == ["seed", "late"])
        // Stamped back and forth, a record is still listed once.
        index.stamp("seed", at: 60)
        index.stamp("seed", at: 5)
        #expect(index.ids(stampedSince: 0) == ["seed", "late"])
    }

    @Test func manyRestampsKeepTheAnswerWhileStaleEntriesAreDropped() {
        var index = ModstampIndex()
        for round in 0..<5 {
            for id in 0..<1_000 { index.stamp("r\(id)", at: Int64(round * 10_000 + id)) }
        }
        #expect(index.ids(stampedSince: 40_000) == (0..<1_000).map { "r\($0)" })
        #expect(index.ids(stampedSince: 40_500) == (500..<1_000).map { "r\($0)" })
    }
}
