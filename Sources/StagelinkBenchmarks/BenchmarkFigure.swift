/// One measured figure of `stagelink bench`, beside the reference measured in the same run so
/// that the ratio means something on a shared, noisy machine.
///
/// For example: staging 100,000 Patients at 61,000 rows/s against a raw sqlite3 insert at
/// 98,000 rows/s gives a ratio of 0.62 against a target of ≥ 0.5.
public struct BenchmarkFigure: Sendable, Hashable {
    /// What was measured, in words (`stage 100,000 FHIR Patients through the store`).
    public var name: String
    public var value: Double
    /// `rows/s`, `ms`, `MB`, `calls/1000 records`.
    public var unit: String
    /// The reference measured in the same run, when there is one.
    public var reference: Reference?
    /// The target, in words (`≥ 50,000 rows/s and ≥ 0.5× raw`).
    public var target: String?
    /// Whether the figure meets its target; nil when there is no target.
    public var meetsTarget: Bool?

    public struct Reference: Sendable, Hashable {
        public var name: String
        public var value: Double

        public init(name: String, value: Double) {
            self.name = name
            self.value = value
        }
    }

    public init(name: String, value: Double, unit: String, reference: Reference? = nil, target: String? = nil, meetsTarget: Bool? = nil) {
        self.name = name
        self.value = value
        self.unit = unit
        self.reference = reference
        self.target = target
        self.meetsTarget = meetsTarget
    }

    /// value ÷ reference, when there is a reference.
    public var ratio: Double? {
        guard let reference, reference.value != 0 else { return nil }
        return value / reference.value
    }
}

/// The sample at `fraction` (0.5: the median, 0.95: the 95th percentile) of `samples`, by the
/// nearest rank; 0 for no samples.
func percentile(_ samples: [Double], _ fraction: Double) -> Double {
    let sorted = samples.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))]
}
