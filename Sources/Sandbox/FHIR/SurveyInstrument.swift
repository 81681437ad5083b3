/// A scored questionnaire the EMR serves (PHQ-9, GAD-7): its LOINC codes, items and severity bands.
///
/// For example:
///
/// ```swift
/// SurveyInstrument.phq9.severity(for: 12)  // "Moderate"
/// ```
public struct SurveyInstrument: Sendable, Hashable {
    public var name: String
    public var id: String
    /// The panel's LOINC code; the questionnaire's canonical URL is `http://loinc.org/{code}`.
    public var code: String
    /// The LOINC code (and item `linkId`) of the total score.
    public var totalCode: String
    public var itemCodes: [String]
    public var itemTexts: [String]
    /// Upper bounds of the severity bands with their labels.
    public var bands: [(upTo: Int, label: String)]

    public var url: String { "http://loinc.org/\(code)" }
    public var maximum: Int { itemCodes.count * 3 }

    public func severity(for total: Int) -> String {
        bands.first { total <= $0.upTo }?.label ?? bands.last!.label
    }

    public static func == (lhs: SurveyInstrument, rhs: SurveyInstrument) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public static let phq9 = SurveyInstrument(
        name: "PHQ-9", id: "phq-9", code: "44249-1", totalCode: "44261-6",
        itemCodes: ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"],
        itemTexts: [
            "Little interest or pleasure in doing things", "Feeling down, depressed, or hopeless",
            "Trouble falling or staying asleep, or sleeping too much", "Feeling tired or having little energy",
            "Poor appetite or overeating", "Feeling bad about yourself",
            "Trouble concentrating on things", "Moving or speaking slowly, or being fidgety or restless",
            "Thoughts that you would be better off dead, or of hurting yourself",
        ],
        bands: [(4, "Minimal"), (9, "Mild"), (14, "Moderate"), (19, "Moderately Severe"), (27, "Severe")])

    public static let gad7 = SurveyInstrument(
        name: "GAD-7", id: "gad-7", code: "69737-5", totalCode: "70274-6",
        itemCodes: ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"],
        itemTexts: [
            "Feeling nervous, anxious, or on edge", "Not being able to stop or control worrying",
            "Worrying too much about different things", "Trouble relaxing",
            "Being so restless that it is hard to sit still", "Becoming easily annoyed or irritable",
            "Feeling afraid, as if something awful might happen",
        ],
        bands: [(4, "Minimal"), (9, "Mild"), (14, "Moderate"), (21, "Severe")])

    public static let all = [phq9, gad7]

    /// The Questionnaire resource of this instrument.
    var questionnaire: WireObject {
        let answers: [WireJSON] = [0, 1, 2, 3].map { ["valueInteger": .int($0)] }
        var items: [WireJSON] = zip(itemCodes, itemTexts).map { code, text in
            [
                "linkId": .string(code), "code": [["system": "http://loinc.org", "code": .string(code)]],
                "text": .string(text), "type": "integer", "required": true, "answerOption": .array(answers),
            ]
        }
        items.append([
            "linkId": .string(totalCode), "code": [["system": "http://loinc.org", "code": .string(totalCode)]],
            "text": "Total score", "type": "integer", "readOnly": true,
        ])
        return WireObject([
            ("resourceType", "Questionnaire"), ("url", .string(url)), ("name", .string(name.replacingOccurrences(of: "-", with: ""))),
            ("title", .string(name)), ("status", "active"),
            ("code", [["system": "http://loinc.org", "code": .string(code), "display": .string(name)]]),
            ("item", .array(items)),
        ])
    }

    /// A completed response with these item answers (0–3) and their total.
    func response(subject: String, answers: [Int], total: Int? = nil, authored: String) -> WireObject {
        var items: [WireJSON] = zip(itemCodes, answers).map { code, answer in
            ["linkId": .string(code), "answer": [["valueInteger": .int(answer)]]]
        }
        items.append(["linkId": .string(totalCode), "answer": [["valueInteger": .int(total ?? answers.reduce(0, +))]]])
        return WireObject([
            ("resourceType", "QuestionnaireResponse"), ("questionnaire", .string(url)), ("status", "completed"),
            ("subject", ["reference": .string("Patient/\(subject)")]), ("authored", .string(authored)),
            ("item", .array(items)),
        ])
    }
}
