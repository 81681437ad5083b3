import Foundation
import Testing

@testable import stagelink

/// `retention.payloads` in stagelink.yaml: a number of days, checked when the file is read.
struct RetentionConfigurationTests {
    @Test func theRetentionPeriodIsReadInDaysAndANonsensePeriodNamesTheKey() throws {
        let folder = try ConfigurationLimitsTests.Folder()
        #expect(try folder.load("store: s.sqlite\nretention:\n  payloads: 90d\n").payloadRetention == .seconds(90 * 86_400))
        #expect(try folder.load("store: s.sqlite\n").payloadRetention == nil, "without it, payloads are kept")
        for bad in ["90", "0d", "3651d", "ninety days", "-5d"] {
            let error = try #require(folder.error("store: s.sqlite\nretention:\n  payloads: \(bad)\n"), "\(bad) refused")
            #expect(error.contains("retention.payloads") && error.contains("such as 90d"), "\(error)")
        }
        #expect(folder.error("store: s.sqlite\nretention:\n  logs: 90d\n")?.contains("logs") == true, "an unknown key is refused")
    }
}
