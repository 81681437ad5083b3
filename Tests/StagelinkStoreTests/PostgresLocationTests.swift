import Foundation
import StagelinkPostgres
import StagelinkStore
import Testing

/// `store: postgres://…`: TLS verified towards any host but this machine, the password never shown,
/// and a URL that cannot be used refused with the reason.
struct PostgresLocationTests {
    @Test func aRemoteStoreIsReachedWithVerifiedTLSByDefault() throws {
        let location = try PostgresLocation(parsing: "postgres://stagelink@db.example.org:6432/sync")
        #expect(location.host == "db.example.org")
        #expect(location.port == 6432)
        #expect(location.user == "stagelink")
        #expect(location.database == "sync")
        #expect(location.password == nil)
        #expect(location.tls == .verifyFull(rootCertificate: nil))
        #expect(!location.isLoopback)
    }

    @Test func aPrivateCertificateAuthorityIsNamedBySSLRootCert() throws {
        let location = try PostgresLocation(parsing: "postgresql://stagelink@db.internal/sync?sslmode=verify-full&sslrootcert=/etc/stagelink/ca.pem")
        #expect(location.port == 5432)
        #expect(location.tls == .verifyFull(rootCertificate: "/etc/stagelink/ca.pem"))
    }

    @Test(arguments: ["disable", "allow", "prefer", "require", "verify-ca"])
    func aModeThatDoesNotVerifyTheServerIsRefusedTowardsAnotherHost(_ mode: String) throws {
        #expect(throws: PostgresLocationError.unverifiedTLS(host: "db.example.org", sslmode: mode)) {
            try PostgresLocation(parsing: "postgres://stagelink@db.example.org:5432/sync?sslmode=\(mode)")
        }
    }

    @Test(arguments: ["127.0.0.1", "localhost", "[::1]", "127.1.2.3"])
    func aLoopbackServerMayGoWithoutTLS(_ host: String) throws {
        let location = try PostgresLocation(parsing: "postgres://stagelink@\(host):55432/stagelink")
        #expect(location.isLoopback)
        #expect(location.tls == .disable)
        #expect(try PostgresLocation(parsing: "postgres://stagelink@\(host)/s?sslmode=verify-full").tls == .verifyFull(rootCertificate: nil))
    }

    @Test func aHostThatOnlyLooksLikeLoopbackIsNot() throws {
        #expect(throws: PostgresLocationError.unverifiedTLS(host: "127.0.0.1.example.org", sslmode: "disable")) {
            try PostgresLocation(parsing: "postgres://u@127.0.0.1.example.org/s?sslmode=disable")
        }
    }

    @Test func thePasswordComesFromTheURLOrAFileAndIsNeverShown() throws {
        let inURL = try PostgresLocation(parsing: "postgres://stagelink:s%40cr%3At@db.example.org/sync")
        #expect(inURL.password == "s@cr:t")
        #expect(!inURL.description.contains("s@cr"))
        #expect(!inURL.description.contains("cr%3At"))
        #expect(inURL.description == "postgres://stagelink@db.example.org:5432/sync?sslmode=verify-full")
        let temporary = try TemporaryFolder("pg-password")
        let file = temporary.file("password")
        try "from-a-file\nignored\n".write(toFile: file, atomically: true, encoding: .utf8)
        let fromFile = try PostgresLocation(parsing: "postgres://stagelink@db.example.org/sync", passwordFile: file)
        #expect(fromFile.password == "from-a-file")
        #expect(throws: PostgresLocationError.self) {
            try PostgresLocation(parsing: "postgres://stagelink:x@db.example.org/sync", passwordFile: file)
        }
        let missing = try #require(throws: PostgresLocationError.self) {
            try PostgresLocation(parsing: "postgres://stagelink@db.example.org/sync", passwordFile: "/nonexistent/pg-password")
        }
        #expect(missing.description.hasPrefix("the password file /nonexistent/pg-password cannot be read"))
    }

    @Test(arguments: [
        ("postgres://db.example.org/sync", "names no user"),
        ("postgres://stagelink@/sync", "names no host"),
        ("postgres://stagelink@db.example.org", "names no database"),
        ("postgres://stagelink@db.example.org/a/b", "names no database"),
        ("postgres://stagelink@db.example.org:99999/sync", "out of range"),
        ("postgres://stagelink@db.example.org/sync?sslmode=verify-ful", "unknown sslmode"),
        ("postgres://stagelink@db.example.org/sync?search_path=x", "unknown parameter \"search_path\""),
        ("postgres://stagelink@db.example.org/sync#x", "#fragment"),
        ("postgres://stagelink@db.example.org:abc/sync", "not a URL"),
        ("mysql://stagelink@db.example.org/sync", "does not start with postgres://"),
    ])
    func aMalformedURLIsRefusedWithItsReason(_ url: String, _ reason: String) throws {
        let error = try #require(throws: PostgresLocationError.self) { try PostgresLocation(parsing: url) }
        #expect(error.description.contains(reason), "\(error)")
        #expect(error.description.contains("postgres://user@host:5432/database?sslmode=verify-full"))
    }
}
