import Foundation
import StagelinkEngine

/// One line of `stagelink check`: what was checked, how it stands, and for a warning or a
/// failure the fix in one sentence.
///
/// For example:
///
/// ```swift
/// Check(.salesforce, "Contact.Gender__c", .failed, "no such field on Contact",
///       fix: "Create the field, or correct its name in the mapping.")
/// // ✗ salesforce     Contact.Gender__c: no such field on Contact. Fix: Create the field, or correct its name in the mapping.
/// ```
struct Check: Sendable, Hashable {
    enum Status: String, Sendable, Hashable, Comparable {
        case passed = "pass"
        case warning = "warn"
        case failed = "fail"

        var symbol: String {
            switch self {
            case .passed: "✓"
            case .warning: "!"
            case .failed: "✗"
            }
        }

        private var rank: Int {
            switch self {
            case .passed: 0
            case .warning: 1
            case .failed: 2
            }
        }

        static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
    }

    /// What part of a deployment the check is about.
    enum Area: String, Sendable, Hashable, CaseIterable {
        case configuration, store, salesforce, emr
    }

    var area: Area
    var subject: String
    var status: Status
    var detail: String
    /// One sentence saying how to fix a warning or a failure.
    var fix: String?
    /// The other system could not be asked (unreachable, 5xx, 429, limit, an unreadable answer):
    /// nothing is known to be wrong with the configuration. `stagelink run` starts anyway.
    var transient = false

    init(_ area: Area, _ subject: String, _ status: Status, _ detail: String, fix: String? = nil, transient: Bool = false) {
        self.area = area
        self.subject = subject
        self.status = status
        self.detail = detail
        self.fix = fix
        self.transient = transient
    }

    static func passed(_ area: Area, _ subject: String, _ detail: String) -> Check {
        Check(area, subject, .passed, detail)
    }

    /// `✓ salesforce     sign-in: …`, with ` Fix: …` after a warning or failure.
    var line: String {
        let padded = area.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)
        var text = "\(status.symbol) \(padded) \(subject): \(detail)"
        if status != .passed, let fix { text += ". Fix: \(fix)" }
        return text
    }

    var json: JSONValue {
        [
            "area": .string(area.rawValue), "subject": .string(subject), "status": .string(status.rawValue), "detail": .string(detail),
            "fix": fix.map(JSONValue.string) ?? .null, "transient": .bool(transient),
        ]
    }
}

/// Every check of one `stagelink check`, and what they add up to.
struct CheckReport: Sendable {
    var checks: [Check]

    /// The worst status of all.
    var status: Check.Status { checks.map(\.status).max() ?? .passed }

    /// 0 when every check passed, 1 with warnings, 2 with failures.
    var exitCode: Int32 {
        switch status {
        case .passed: 0
        case .warning: 1
        case .failed: 2
        }
    }

    /// The failures that a configuration or the other system's setup causes: what makes
    /// `stagelink run` refuse to start (a system that could not be asked is not one).
    var blockingFailures: [Check] { checks.filter { $0.status == .failed && !$0.transient } }

    var text: String {
        let counts = Dictionary(grouping: checks, by: \.status).mapValues(\.count)
        let summary = "\(counts[.passed] ?? 0) passed, \(counts[.warning] ?? 0) warnings, \(counts[.failed] ?? 0) failed"
        return (checks.map(\.line) + ["", summary]).joined(separator: "\n")
    }

    var json: JSONValue {
        ["status": .string(status.rawValue), "exitCode": .number(String(exitCode)), "checks": .array(checks.map(\.json))]
    }
}
