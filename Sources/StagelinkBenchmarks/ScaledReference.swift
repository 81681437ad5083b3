/// A reference too slow to measure at full size, measured at two small sizes and extended to the
/// full size along the line through them: the smaller run's cost is what every run pays once
/// (tokens, the CapabilityStatement, the first page of each type, the first call of each object),
/// added once; what the larger run cost beyond it grows with the records and is scaled.
///
/// Scaling one slice alone multiplies its fixed costs by the factor and overstates the reference
/// (at `--patients 400` the slice is 20 patients, nearly all fixed cost).
///
/// For example, 2.0 s for 5 records and 12.0 s for 1,005 records extend to 102.0 s for 10,005
/// records (2.0 s once, then 10 ms a record), where the slice scaled alone would say 119.4 s:
///
/// ```swift
/// let reference = ScaledReference(fixed: (5, 2.0), slice: (1_005, 12.0))
/// reference.value(at: 10_005)  // 102.0
/// ```
struct ScaledReference: Sendable {
    /// The smallest run: its size and its cost, paid once.
    var fixed: (size: Int, cost: Double)
    /// The slice: its size and its cost.
    var slice: (size: Int, cost: Double)

    /// Whether the slice is larger than the fixed run: else there is no line to draw, and the
    /// slice alone is scaled (fixed costs and all).
    var hasLine: Bool { slice.size > fixed.size }

    /// What each record beyond the fixed run's costs (never below zero: a slice that measured
    /// less than the fixed run, from jitter, scales nothing).
    var costPerRecord: Double {
        guard hasLine else { return slice.cost / Double(max(1, slice.size)) }
        return max(0, slice.cost - fixed.cost) / Double(slice.size - fixed.size)
    }

    /// The reference at `size` records: the fixed cost once, and the rest at the slice's rate.
    func value(at size: Int) -> Double {
        guard hasLine else { return costPerRecord * Double(size) }
        return fixed.cost + costPerRecord * Double(max(0, size - fixed.size))
    }

    /// The factor the variable part is scaled by, for the figure's name.
    func factor(at size: Int) -> Double {
        guard hasLine else { return Double(size) / Double(max(1, slice.size)) }
        return Double(max(0, size - fixed.size)) / Double(slice.size - fixed.size)
    }
}
