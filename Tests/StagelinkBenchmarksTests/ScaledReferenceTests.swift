import Testing

@testable import StagelinkBenchmarks

struct ScaledReferenceTests {
    @Test func theFixedRunIsCountedOnceAndTheRestOfTheSliceIsScaled() {
        let reference = ScaledReference(fixed: (5, 2.0), slice: (1_005, 12.0))
        #expect(reference.costPerRecord == 0.01)
        #expect(abs(reference.value(at: 10_005) - 102.0) < 1e-9)
        #expect(reference.factor(at: 10_005) == 10)
        // Scaling the slice alone would have multiplied its 2 s of fixed cost too.
        #expect(reference.value(at: 10_005) < 12.0 * 10_005 / 1_005)
    }

    @Test func aSliceNoLargerThanTheFixedRunIsScaledAlone() {
        let reference = ScaledReference(fixed: (1, 3.0), slice: (1, 3.5))
        #expect(reference.value(at: 50) == 175)
        #expect(reference.factor(at: 50) == 50)
    }

    @Test func aSliceThatMeasuredLessThanTheFixedRunScalesNothing() {
        let reference = ScaledReference(fixed: (5, 2.0), slice: (100, 1.5))
        #expect(reference.costPerRecord == 0)
        #expect(reference.value(at: 10_000) == 2.0)
    }
}
