/// Pools of synthetic names, places and referral sources: realistic, international, none of them real people.
enum SyntheticPeople {
    static let givenNames = [
        "Zoë", "José", "Łukasz", "芳", "Søren", "Chloé", "Ngozi", "Aleksandr", "Priya", "Mateo", "Amélie", "Björn",
        "Siobhán", "Olúwaseun", "Hana", "Marcus", "Elena", "Tomás", "Aisha", "Noah", "Ingrid", "Kenji", "Fatima",
        "Liam", "Renée", "Dmitri", "Camila", "Yusuf", "Grace", "Mikael", "Leilani", "Samuel", "Ana", "Jürgen",
        "Maya", "Oren", "Beatriz", "Kwame", "Emily", "Raúl",
    ]
    static let familyNames = [
        "Müller", "Peña", "王", "Kowalski", "Nguyễn", "O'Brien", "García", "Søndergaard", "Okafor", "Ivanova",
        "Fernández", "Smith", "Johnson", "Brown", "Patel", "Kim", "Haddad", "Lindqvist", "Moreau", "Adeyemi",
        "Santos", "Novak", "Tanaka", "Byrne", "Schröder", "Dubois", "Mensah", "Rossi", "Walker", "Çelik",
        "Herrera", "Nakamura", "Kaur", "Jensen", "Zieliński",
    ]
    /// Fixed pairs that must appear, so that non-ASCII names are always exercised.
    static let requiredNames: [(given: String, family: String)] = [
        ("Zoë", "Müller"), ("José", "Peña"), ("芳", "王"), ("Łukasz", "Kowalski"),
    ]
    static let streets = [
        "Maple Avenue", "Cedar Lane", "Harbor Street", "Elm Court", "Rue des Lilas", "Kingsway", "Mill Road",
        "Sunset Boulevard", "Birch Way", "Calle del Sol",
    ]
    static let cities: [(city: String, state: String, postal: String)] = [
        ("Portland", "OR", "97205"), ("Austin", "TX", "78701"), ("Columbus", "OH", "43215"),
        ("Raleigh", "NC", "27601"), ("Denver", "CO", "80202"), ("Madison", "WI", "53703"),
        ("Albuquerque", "NM", "87102"), ("Burlington", "VT", "05401"),
    ]
    static let referralSources = [
        "County Crisis Line", "St. Jude Emergency Department", "Dr. Amara Okafor (PCP)", "Harbor Outpatient Clinic",
        "Family referral", "Self-referral", "Drug Court Program", "Riverside EAP",
    ]
    static let oversizeFamilyName = String(
        repeating: "Featherstonehaugh-", count: 5) + "Montmorency"

    /// A plain-ASCII mailbox name for an email address.
    static func mailbox(_ given: String, _ family: String, number: Int) -> String {
        let folded = (given + "." + family).folding(options: [.diacriticInsensitive, .caseInsensitive], locale: nil)
        let ascii = folded.unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || $0 == ".") }
        let base = String(String.UnicodeScalarView(ascii)).trimmingCharacters(in: CharacterSet(charactersIn: "."))
        return (base.isEmpty || base == "." ? "patient" : base) + "\(number)"
    }
}

import Foundation
