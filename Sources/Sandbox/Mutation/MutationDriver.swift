import Logging
import Synchronization

/// What one step of the mutation driver did.
public struct Mutation: Sendable, Hashable {
    /// The kinds of change the driver makes.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// A Patient's name or telecom edited in the EMR (a new version).
        case patientEdited = "patient-edited"
        /// A new PHQ-9 or GAD-7 response for a patient.
        case responseAdded = "response-added"
        /// A Contact's Phone, Email or mailing address edited in Salesforce by a person.
        case contactEdited = "contact-edited"
        /// The same field (phone) edited on both sides of a linked patient.
        case bothSidesEdited = "both-sides-edited"
        /// An admission moved to Ready for Intake.
        case admissionReady = "admission-ready"
        /// A Contact deleted in Salesforce (to the Recycle Bin).
        case contactDeleted = "contact-deleted"
        /// A Contact merged into another in Salesforce: `id` is the loser, `survivor` the master.
        case contactsMerged = "contacts-merged"
        /// A Patient deleted in the EMR.
        case patientDeleted = "patient-deleted"
        /// A Patient merged into another in the EMR: `id` is the loser, `survivor` the one kept.
        case patientsMerged = "patients-merged"
    }

    public var kind: Kind
    public var system: SandboxSystem
    public var type: String
    public var id: String
    /// For a merge, the record that was kept.
    public var survivor: String? = nil
}

/// Edits records on either side on a cadence, as the people using both systems would, so that delta pulls
/// find work and both-sides-changed conflicts happen. Salesforce edits are made by a human user, never the
/// integration user, so `LastModifiedById` tells them apart.
///
/// For example:
///
/// ```swift
/// sandbox.mutations.start(every: .seconds(2))
/// let made = sandbox.mutations.step(count: 10)  // or drive it by hand in tests
/// ```
public final class MutationDriver: Sendable {
    private struct State {
        var random: SeededGenerator
        var task: Task<Void, Never>?
        var sequence = 0
    }

    private unowned let world: SandboxWorld
    private let state: Mutex<State>
    private let logger: Logger

    init(world: SandboxWorld, logger: Logger) {
        self.world = world
        self.logger = logger
        state = Mutex(State(random: SeededGenerator(seed: world.configuration.seed ^ 0x5EED)))
    }

    /// Starts editing every `interval`; a running driver is restarted at the new cadence.
    public func start(every interval: Duration) {
        stop()
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled, let self else { return }
                let made = self.step(count: 1)
                self.logger.debug("sandbox mutation", metadata: ["sandbox.mutation": "\(made.first?.kind.rawValue ?? "none")"])
            }
        }
        state.withLock { $0.task = task }
    }

    /// Stops the cadence.
    public func stop() {
        state.withLock { state in
            state.task?.cancel()
            state.task = nil
        }
    }

    /// Whether the cadence is running.
    public var isRunning: Bool { state.withLock { $0.task != nil } }

    /// Makes `count` changes now and says what they were.
    @discardableResult
    public func step(count: Int = 1) -> [Mutation] {
        (0..<count).compactMap { _ in
            let share = world.configuration.deletionShare
            if share > 0, random({ $0.chance(share) }) {
                switch random({ Int.random(in: 0..<4, using: &$0) }) {
                case 0: if let made = deleteContact() { return made }
                case 1: if let made = mergeContacts() { return made }
                case 2: if let made = deletePatient() { return made }
                default: if let made = mergePatients() { return made }
                }
            }
            let roll = state.withLock { Int.random(in: 0..<100, using: &$0.random) }
            switch roll {
            case 0..<25: return editPatient()
            case 25..<45: return addResponse()
            case 45..<70: return editContact()
            case 70..<85: return editBothSides() ?? editContact()
            default: return readyAdmission() ?? editContact()
            }
        }
    }

    private func random<T>(_ body: (inout SeededGenerator) -> T) -> T {
        state.withLock { body(&$0.random) }
    }

    private func newPhone() -> String {
        random { "+1-555-\(Int.random(in: 200...999, using: &$0))-\(Int.random(in: 1000...9999, using: &$0))" }
    }

    private func goodPatients() -> [FHIRResourceEntry] {
        // A merged-away Patient (inactive, replaced-by) "must no longer be used": nobody edits it.
        world.emr.entries("Patient").filter { entry in
            entry.resource["active"] != .bool(false)
                && entry.resource["name"]?[0]?["family"]?.stringValue.map { $0.count <= 80 } == true
                && entry.resource["birthDate"]?.stringValue.map { CivilDate($0) != nil } == true
                && ["male", "female", "other", "unknown"].contains(entry.resource["gender"]?.stringValue ?? "")
        }
    }

    private func editPatient() -> Mutation? {
        let patients = goodPatients()
        guard !patients.isEmpty else { return nil }
        let entry = random { $0.pick(patients) }
        var resource = entry.resource
        let id = resource["id"]!.stringValue!
        if random({ $0.chance(0.5) }), var name = resource["name"]?[0]?.objectValue {
            let current = name["given"]?[0]?.stringValue
            let others = SyntheticPeople.givenNames.filter { $0 != current }
            name["given"] = [.string(random { $0.pick(others) })]
            resource["name"] = [.object(name)]
        } else {
            setTelecom(&resource, system: "phone", value: newPhone())
        }
        guard (try? world.emr.update(resource, type: "Patient", id: id, ifMatch: nil, actor: SeedGenerator.clinician, endpoint: nil)) != nil
        else { return nil }
        return Mutation(kind: .patientEdited, system: .fhir, type: "Patient", id: id)
    }

    private func setTelecom(_ resource: inout WireObject, system: String, value: String) {
        var telecom = resource["telecom"]?.arrayValue ?? []
        if let index = telecom.firstIndex(where: { $0["system"]?.stringValue == system }) {
            telecom[index]["value"] = .string(value)
        } else {
            telecom.append(["system": .string(system), "value": .string(value)])
        }
        resource["telecom"] = .array(telecom)
    }

    private func addResponse() -> Mutation? {
        let patients = goodPatients()
        guard !patients.isEmpty else { return nil }
        let patient = random { $0.pick(patients) }.resource["id"]!.stringValue!
        let instrument = random { $0.pick(SurveyInstrument.all) }
        let answers = random { generator in instrument.itemCodes.map { _ in Int.random(in: 0...3, using: &generator) } }
        let response = instrument.response(subject: patient, answers: answers, authored: world.clock.now().fhirInstant)
        guard let (entry, _) = try? world.emr.create(
            response, type: "QuestionnaireResponse", ifNoneExist: nil, actor: SeedGenerator.clinician, endpoint: nil)
        else { return nil }
        return Mutation(kind: .responseAdded, system: .fhir, type: "QuestionnaireResponse", id: entry.resource["id"]!.stringValue!)
    }

    private func human() -> String {
        world.salesforce.user(
            named: SeedGenerator.admissionsCoordinator.username, displayName: SeedGenerator.admissionsCoordinator.name)
    }

    /// The people Salesforce keeps (Contacts or person accounts), never a person contact behind an Account.
    private func people() -> [SObjectRecord] {
        world.salesforce.store.records(of: world.configuration.people.object).filter {
            world.configuration.people.isPersonAccount ? $0["IsPersonAccount"] == .bool(true) : $0["IsPersonAccount"] != .bool(true)
        }
    }

    private func editContact() -> Mutation? {
        let contacts = people()
        guard !contacts.isEmpty else { return nil }
        let contact = random { $0.pick(contacts) }
        let place = random { $0.pick(SyntheticPeople.cities) }
        let people = world.configuration.people
        let body: WireObject = random { generator in
            switch Int.random(in: 0..<3, using: &generator) {
            case 0: return [people.field("Phone"): .string("+1-555-\(Int.random(in: 200...999, using: &generator))-\(Int.random(in: 1000...9999, using: &generator))")]
            case 1: return [people.field("Email"): .string("updated\(Int.random(in: 1...99_999, using: &generator))@example.net")]
            default:
                return [
                    people.field("MailingStreet"): .string("\(Int.random(in: 1...9999, using: &generator)) \(generator.pick(SyntheticPeople.streets))"),
                    people.field("MailingCity"): .string(place.city), people.field("MailingState"): .string(place.state),
                    people.field("MailingPostalCode"): .string(place.postal),
                ]
            }
        }
        guard (try? world.salesforce.update(world.configuration.people.object, id: contact.id, body: body, actor: human(), endpoint: nil)) != nil
        else { return nil }
        return Mutation(kind: .contactEdited, system: .salesforce, type: world.configuration.people.object, id: contact.id)
    }

    /// Edits the phone of a linked patient on both sides, with different values.
    private func editBothSides() -> Mutation? {
        let linked = people().compactMap { contact -> (SObjectRecord, FHIRResourceEntry)? in
            guard let patientID = contact[world.configuration.people.field("EMR_Patient_Id__c")].stringValue, let entry = world.emr.liveEntry("Patient", patientID)
            else { return nil }
            return (contact, entry)
        }
        guard !linked.isEmpty else { return nil }
        let (contact, entry) = random { $0.pick(linked) }
        var resource = entry.resource
        setTelecom(&resource, system: "phone", value: newPhone())
        guard (try? world.emr.update(resource, type: "Patient", id: entry.resource["id"]!.stringValue!, ifMatch: nil, actor: SeedGenerator.clinician, endpoint: nil)) != nil,
            (try? world.salesforce.update(world.configuration.people.object, id: contact.id, body: [world.configuration.people.field("Phone"): .string(newPhone())], actor: human(), endpoint: nil)) != nil
        else { return nil }
        return Mutation(kind: .bothSidesEdited, system: .salesforce, type: world.configuration.people.object, id: contact.id)
    }

    private func deleteContact() -> Mutation? {
        let contacts = people()
        guard !contacts.isEmpty else { return nil }
        let contact = random { $0.pick(contacts) }
        guard (try? world.salesforce.delete(world.configuration.people.object, id: contact.id, actor: human(), endpoint: nil)) != nil else { return nil }
        return Mutation(kind: .contactDeleted, system: .salesforce, type: world.configuration.people.object, id: contact.id)
    }

    private func mergeContacts() -> Mutation? {
        let contacts = people()
        guard contacts.count >= 2 else { return nil }
        let master = random { $0.pick(contacts) }
        let loser = random { $0.pick(contacts.filter { $0.id != master.id }) }
        guard (try? world.salesforce.merge(world.configuration.people.object, master: master.id, losers: [loser.id], actor: human())) != nil
        else { return nil }
        return Mutation(kind: .contactsMerged, system: .salesforce, type: world.configuration.people.object, id: loser.id, survivor: master.id)
    }

    private func deletePatient() -> Mutation? {
        let patients = goodPatients()
        guard !patients.isEmpty else { return nil }
        let id = random { $0.pick(patients) }.resource["id"]!.stringValue!
        guard world.emr.delete("Patient", id: id, actor: SeedGenerator.clinician, endpoint: nil) != nil else { return nil }
        return Mutation(kind: .patientDeleted, system: .fhir, type: "Patient", id: id)
    }

    private func mergePatients() -> Mutation? {
        let patients = goodPatients()
        guard patients.count >= 2 else { return nil }
        let survivor = random { $0.pick(patients) }.resource["id"]!.stringValue!
        let loser = random { $0.pick(patients.filter { $0.resource["id"]?.stringValue != survivor }) }.resource["id"]!.stringValue!
        guard (try? world.emr.mergePatients(survivor: survivor, loser: loser, actor: SeedGenerator.clinician)) != nil
        else { return nil }
        return Mutation(kind: .patientsMerged, system: .fhir, type: "Patient", id: loser, survivor: survivor)
    }

    private func readyAdmission() -> Mutation? {
        let lookup = world.configuration.people.admissionField
        let waiting = world.salesforce.store.records(of: "Admission__c").filter { admission in
            ["New", "Screening"].contains(admission["Stage__c"].stringValue ?? "") && !admission[lookup].isNull
        }
        guard !waiting.isEmpty else { return nil }
        let admission = random { $0.pick(waiting) }
        guard (try? world.salesforce.update("Admission__c", id: admission.id, body: ["Stage__c": "Ready for Intake"], actor: human(), endpoint: nil)) != nil
        else { return nil }
        return Mutation(kind: .admissionReady, system: .salesforce, type: "Admission__c", id: admission.id)
    }
}
