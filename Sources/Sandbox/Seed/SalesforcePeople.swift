/// Where the simulated org keeps people, which the seed and the mutation driver write: Contacts (the
/// default mapping), or Health Cloud's Person Accounts (``PersonAccounts``), each admission looking
/// its person up through `admissionField`.
///
/// ```swift
/// var configuration = SandboxConfiguration(credentials: credentials)
/// configuration.people = .personAccounts
/// ```
public struct SalesforcePeople: Sendable, Hashable {
    /// `Contact` or `Account`.
    public var object: String
    /// The developer name of the person account record type people are created with; nil for Contacts.
    public var recordType: String?
    /// The lookup of Admission__c (and of Assessment__c) to the person: `Contact__c`, `Account__c`.
    public var admissionField: String

    public init(object: String, recordType: String?, admissionField: String) {
        self.object = object
        self.recordType = recordType
        self.admissionField = admissionField
    }

    public static let contacts = SalesforcePeople(object: "Contact", recordType: nil, admissionField: "Contact__c")
    public static let personAccounts = SalesforcePeople(object: "Account", recordType: "PersonAccount", admissionField: "Account__c")

    /// Whether people are Person Accounts.
    public var isPersonAccount: Bool { recordType != nil }

    /// The name of a Contact field on the people's object: `Birthdate` is `PersonBirthdate` and
    /// `EMR_Patient_Id__c` is `EMR_Patient_Id__pc` on a person account.
    public func field(_ contactField: String) -> String {
        isPersonAccount ? PersonAccounts.accountField(forContactField: contactField) ?? contactField : contactField
    }

    /// The relationship through which a child record names its person by external id
    /// (`Contact__r.EMR_Patient_Id__c`, `Account__r.EMR_Patient_Id__pc`).
    public var patientReference: String {
        String(admissionField.dropLast(3)) + "__r." + field("EMR_Patient_Id__c")
    }
}
