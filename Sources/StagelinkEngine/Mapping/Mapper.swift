import Foundation

/// A staged payload turned into the values of one Salesforce record.
public struct MappedRecord: Sendable, Hashable {
    public var record: MappedRecordKey
    /// In the mapping's order; the external id first among equals.
    public var fields: [MappedField]
    /// The Salesforce id the resource names, when Stagelink created it from that record.
    public var salesforceID: String?

    public init(record: MappedRecordKey, fields: [MappedField], salesforceID: String? = nil) {
        self.record = record
        self.fields = fields
        self.salesforceID = salesforceID
    }

    public func value(of field: String) -> FieldValue? { fields.first { $0.name == field }?.value }
}

public struct MappedField: Sendable, Hashable {
    public var name: String
    public var value: FieldValue

    public init(name: String, value: FieldValue) {
        self.name = name
        self.value = value
    }
}

/// Reads FHIR resources through an inbound mapping, checking every value on the way.
///
/// A payload that cannot be read (bad JSON, the wrong resource, a missing required value, a value
/// of the wrong type, a date that is not a date, an unknown code, a score out of range) yields a
/// `LinkError` whose code starts with `MAPPING_` and whose fields name the culprit; nothing is
/// half-read. Messages never quote a value: they may be logged.
///
/// For example:
///
/// ```swift
/// let mapper = Mapper(mapping: document.inbound(forResource: "Patient")!, instruments: document.instruments)
/// switch mapper.map(row.payload) { case .success(let record): …; case .failure(let error): … }
/// ```
public struct Mapper: Sendable {
    public let mapping: InboundMapping
    public let instruments: [Instrument]

    public init(mapping: InboundMapping, instruments: [Instrument]) {
        self.mapping = mapping
        self.instruments = instruments
    }

    /// `payload` mapped; `sourceID`, when given, is the id the row was staged under (where the
    /// other system said the resource lives), and the resource's own id must be the same.
    public func map(_ payload: [UInt8], stagedAs sourceID: String? = nil) -> Result<MappedRecord, LinkError> {
        let resource: JSONValue
        do {
            resource = try JSONValue(parsing: payload)
        } catch {
            return .failure(LinkError(.mappingInvalidJSON, message: "the payload is not valid JSON: \(error)"))
        }
        return map(resource, stagedAs: sourceID)
    }

    public func map(_ resource: JSONValue, stagedAs sourceID: String? = nil) -> Result<MappedRecord, LinkError> {
        guard resource.objectValue != nil else {
            return .failure(LinkError(.mappingWrongResource, message: "the payload is \(resource.kindName), not a \(mapping.resource) resource"))
        }
        guard resource["resourceType"]?.stringValue == mapping.resource else {
            return .failure(LinkError(.mappingWrongResource, message: "resourceType is not \(mapping.resource)", fields: ["resourceType"]))
        }
        // The resource's id keys its record and goes into URLs: it must be a FHIR id, not a path or a query.
        if let id = resource["id"]?.stringValue, !FieldConversion.isFHIRID(id) {
            let field = mapping.fields.first { $0.path?.description == "id" }?.field ?? "id"
            return .failure(LinkError(.invalidIdentifier, message: "id is not a FHIR id (1 to 64 of A-Z, a-z, 0-9, - and .)", fields: [field]))
        }
        // A body that claims another identity than the one it was delivered as (a Bundle entry's
        // fullUrl) would write into that other record: it fails alone.
        if let sourceID, let id = resource["id"]?.stringValue, id != sourceID {
            let field = mapping.fields.first { $0.path?.description == "id" }?.field ?? "id"
            return .failure(
                LinkError(
                    .identityMismatch,
                    message: "the resource's id is not the one its Bundle entry's fullUrl names (staged under the fullUrl's): nothing was written",
                    fields: [field]))
        }
        // Every field is read, so that a record with several problems reports them all at once
        // (fix, retry, fail again on the next one is what this spares support staff).
        var fields: [MappedField] = []
        fields.reserveCapacity(mapping.fields.count)
        var problems: [LinkError] = []
        var scoring: Result<Scoring, LinkError>?
        for field in mapping.fields {
            do {
                let value = try read(field, from: resource, scoring: &scoring)
                fields.append(MappedField(name: field.field, value: value))
            } catch {
                // A scoring problem is the record's once, whichever computed fields ask for the score.
                if !problems.contains(error) { problems.append(error) }
            }
        }
        let missingKey = LinkError(
            .mappingMissingField, message: "\(mapping.externalIDField?.displayName ?? mapping.externalID) is required", fields: [mapping.externalID])
        let key: String?
        if case .text(let text)? = fields.first(where: { $0.name == mapping.externalID })?.value, !text.isEmpty {
            key = text
        } else {
            key = nil
            // Unless its own field already said what is wrong with it.
            if !problems.contains(where: { $0.fields.contains(mapping.externalID) }) { problems.append(missingKey) }
        }
        let salesforceID = mapping.salesforceID.flatMap { $0.value(in: resource)?.stringValue }.flatMap { $0.isEmpty ? nil : $0 }
        // The Salesforce id a resource names is the key of an update by id: it must be one.
        if let salesforceID {
            do throws(LinkError) {
                _ = try SalesforceID.validated(salesforceID, field: "Id", of: "the Salesforce id the \(mapping.resource) names")
            } catch {
                problems.append(error)
            }
        }
        if let error = LinkError(combining: problems) { return .failure(error) }
        guard let key else { return .failure(missingKey) }
        return .success(MappedRecord(record: MappedRecordKey(object: mapping.object, key: key), fields: fields, salesforceID: salesforceID))
    }

    private func read(_ field: FieldMapping, from resource: JSONValue, scoring cached: inout Result<Scoring, LinkError>?) throws(LinkError) -> FieldValue {
        if field.type.isComputed {
            // Scoring problems are the score's, whichever computed field asks first: scored once.
            let result: Result<Scoring, LinkError>
            if let cached {
                result = cached
            } else {
                do throws(LinkError) {
                    result = .success(
                        try score(
                            resource, instrumentField: mapping.fields.first { $0.type == .instrument } ?? field,
                            scoreField: mapping.fields.first { $0.type == .score } ?? field))
                } catch {
                    result = .failure(error)
                }
                cached = result
            }
            let scoring = try result.get()
            switch field.type {
            case .instrument:
                let label = field.values.first { $0.code == scoring.instrument.name }?.label ?? scoring.instrument.name
                return .text(label)
            case .score: return .number(String(scoring.score))
            default:
                guard let band = scoring.instrument.severity(forScore: scoring.score) else {
                    throw fail(field, .mappingScoreOutOfRange, "no severity band covers the score")
                }
                return .text(band)
            }
        }
        let raw = field.path.flatMap { $0.value(in: resource) } ?? .null
        let value = try FieldConversion.fieldValue(from: raw, for: field)
        if field.required && value.isBlank {
            throw fail(field, .mappingMissingField, "is required but absent")
        }
        return value
    }

    private struct Scoring {
        var instrument: Instrument
        var score: Int
    }

    private func score(_ resource: JSONValue, instrumentField: FieldMapping, scoreField field: FieldMapping) throws(LinkError) -> Scoring {
        let canonical = resource["questionnaire"]?.stringValue.map { String($0.split(separator: "|").first ?? "") }
        guard let instrument = instruments.first(where: { $0.questionnaire == canonical }) else {
            throw fail(instrumentField, .mappingUnknownInstrument, "the questionnaire is not one of \(instruments.map(\.name).joined(separator: ", "))", fhirField: "questionnaire")
        }
        var sum = 0
        var answered = 0
        var reportedTotal: Int?
        for item in resource["item"]?.arrayValue ?? [] {
            let linkID = item["linkId"]?.stringValue ?? ""
            let answer = item["answer"]?[0]
            let code = item["code"]?[0]?["code"]?.stringValue
            guard let answer else { continue }
            guard case .number(let lexeme)? = answer["valueInteger"], let points = Int(lexeme) else {
                throw fail(field, .mappingWrongType, "an item answer is not an integer (valueInteger)", fhirField: "item.answer")
            }
            if linkID == instrument.totalCode || code == instrument.totalCode {
                reportedTotal = points
                continue
            }
            guard (0...instrument.itemMax).contains(points) else {
                throw fail(field, .mappingScoreOutOfRange, "an item answer is outside 0–\(instrument.itemMax) for \(instrument.name)", fhirField: "item.answer")
            }
            sum += points
            answered += 1
        }
        guard answered <= instrument.items else {
            throw fail(field, .mappingScoreOutOfRange, "\(instrument.name) has \(instrument.items) items, the response answers \(answered)", fhirField: "item")
        }
        if let reportedTotal {
            guard (0...instrument.maximumScore).contains(reportedTotal) else {
                throw fail(field, .mappingScoreOutOfRange, "the total is outside 0–\(instrument.maximumScore) for \(instrument.name)", fhirField: "item.answer")
            }
            guard answered == 0 || reportedTotal == sum else {
                throw fail(field, .mappingScoreMismatch, "the total item does not equal the sum of the item answers", fhirField: "item.answer")
            }
            if answered == 0 { sum = reportedTotal }
        } else if answered == 0 {
            throw fail(field, .mappingMissingField, "the response has no answered items", fhirField: "item")
        }
        return Scoring(instrument: instrument, score: sum)
    }

    private func fail(_ field: FieldMapping, _ code: ErrorCode, _ message: String, fhirField: String? = nil) -> LinkError {
        let name = fhirField.map { "\(field.field) (\($0))" } ?? field.displayName
        return LinkError(code, message: "\(name) \(message)", fields: [field.field])
    }
}
