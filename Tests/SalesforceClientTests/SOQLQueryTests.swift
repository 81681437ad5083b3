import Foundation
import Testing

@testable import SalesforceClient

struct SOQLQueryTests {
    @Test func quotesAndBackslashesAreEscapedInStringLiterals() {
        #expect(SOQL.quoted("O'Brien") == #"'O\'Brien'"#)
        #expect(SOQL.quoted(#"back\slash"#) == #"'back\\slash'"#)
        #expect(SOQL.quoted("x' OR Name != '") == #"'x\' OR Name != \''"#)
        #expect(SOQL.quoted("line\nbreak\t\"q\"") == #"'line\nbreak\t\"q\"'"#)
    }

    @Test func deltaQuerySelectsTheTrackingFieldsAndOrdersByModstamp() throws {
        let since = Date(timeIntervalSince1970: 1_795_677_985.456)
        let query = try SOQLQuery(select: ["Id", "SystemModstamp", "LastModifiedById", "Stage__c", "Contact__r.EMR_Patient_Id__c", "id"], from: "Admission__c")
            .where("SystemModstamp", .greaterThanOrEqual, .dateTime(since))
            .orderBy("SystemModstamp")
        #expect(
            query.text
                == "SELECT Id, SystemModstamp, LastModifiedById, Stage__c, Contact__r.EMR_Patient_Id__c FROM Admission__c "
                + "WHERE SystemModstamp >= 2026-11-26T07:26:25Z ORDER BY SystemModstamp ASC")
    }

    @Test func anInListQuotesEveryValueAndNeedsOne() throws {
        let query = try SOQLQuery(select: ["Id"], from: "Contact").where("Id", in: [.string("003A"), .string("x') OR Id != ('")])
        #expect(query.text == #"SELECT Id FROM Contact WHERE Id IN ('003A', 'x\') OR Id != (\'')"#)
        #expect(throws: SOQLError.self) { _ = try SOQLQuery(select: ["Id"], from: "Contact").where("Id", in: []) }
    }

    @Test func conditionsAreJoinedWithAndAndLimited() throws {
        let query = try SOQLQuery(select: ["Id"], from: "Contact")
            .where("LastName", .equals, .string("O'Brien"))
            .where("IsDeleted", .equals, .boolean(false))
            .limit(1)
        #expect(query.text == #"SELECT Id FROM Contact WHERE LastName = 'O\'Brien' AND IsDeleted = false LIMIT 1"#)
    }

    @Test(arguments: ["Name; DELETE", "Contact__r..Name", "1Field", "Na me", "", "Ünicode__c"])
    func namesThatAreNotIdentifiersAreRefused(name: String) {
        #expect(throws: SOQLError.self) { try SOQLQuery(select: [name], from: "Contact") }
        #expect(throws: SOQLError.self) { try SOQLQuery(select: ["Id"], from: "Contact").where(name, .equals, .null) }
    }

    @Test func objectNamesTakeNoDots() {
        #expect(throws: SOQLError.self) { try SOQLQuery(select: ["Id"], from: "Contact.Account") }
    }
}
