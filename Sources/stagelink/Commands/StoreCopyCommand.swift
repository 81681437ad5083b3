import ArgumentParser
import Foundation
import StagelinkEngine
import StagelinkPostgres
import StagelinkStore

extension StoreCommand {
    /// `stagelink store copy --from PATH --to URL`.
    struct CopyCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "copy",
            abstract: "Copies a SQLite store into a new, empty PostgreSQL store, and verifies the copy.",
            discussion: """
                Everything the store holds moves table by table in key order, ids kept: staged rows \
                with their payloads byte for byte and their hashes, each row's history and attempts, \
                links, field states and lineage, conflicts, jobs and events, the policy and its audit, \
                the access log, the lease's grants (so that fencing epochs keep growing). Each \
                identity then continues after the highest id copied. At the end every table is read \
                back from PostgreSQL and compared with SQLite's: its row count and a SHA-256 digest \
                of its rows must be equal, or the command fails naming the table.

                Stop the service first (nothing may write the SQLite store during the copy), copy, \
                then point store: in stagelink.yaml at the PostgreSQL URL and start it again \
                (docs/scale.md). The target must be empty: a store that holds any row is refused \
                before anything is written. An encrypted store is copied as it is, with its key \
                file (--key-file, or encryption.keyFile in stagelink.yaml): sealed payloads and \
                values, keyed hashes and the blind person index byte for byte, and its data key \
                wrapped as it was, so nothing is decrypted on the way; the PostgreSQL store then \
                opens with the same key file (keep encryption.keyFile), which the copy checks at \
                the end. A store halfway through a data-key rotation is refused until the rotation \
                is finished. A SQLite store written by \
                an older Stagelink is refused: run this build's `stagelink sync` on it once first, \
                which upgrades it.

                Examples:
                  stagelink store copy --from store.sqlite --to postgres://stagelink@127.0.0.1:5432/stagelink
                  stagelink store copy --from store.sqlite --key-file /etc/stagelink/store.key --to postgres://stagelink@127.0.0.1:5432/stagelink
                  stagelink store copy --from /var/lib/stagelink/store.sqlite --password-file /etc/stagelink/pg.password \\
                    --to "postgres://stagelink@db.example.org:5432/stagelink?sslmode=verify-full"
                """
        )

        @Option(help: ArgumentHelp("The SQLite store to copy (only read).", valueName: "path"))
        var from: String

        @Option(help: ArgumentHelp("The new PostgreSQL store: postgres://USER@HOST:5432/DATABASE?sslmode=verify-full.", valueName: "url"))
        var to: String

        @Option(name: .customLong("password-file"), help: ArgumentHelp("A file whose first line is the PostgreSQL password (mode 0600).", valueName: "file"))
        var passwordFile: String?

        @Option(
            name: .customLong("key-file"),
            help: ArgumentHelp("The key file of an encrypted store (default: encryption.keyFile of stagelink.yaml, when there is one).", valueName: "file"))
        var keyFile: String?

        func run() async throws {
            guard FileManager.default.fileExists(atPath: from) else { throw ValidationError("--from: there is no store at \(from).") }
            let location: PostgresLocation
            do { location = try PostgresLocation(parsing: to, passwordFile: passwordFile) } catch { throw ValidationError("--to: \(error)") }
            let keyFile = try keyFile ?? Context.loadConfiguration(nil)?.encryptionKeyFile
            let key = try keyFile.map { file throws(StoreKeyError) in try StoreKey.load(file: file) }
            let source: SQLiteStore
            do {
                source = try SQLiteStore(path: from, access: .readOnly, key: key)
            } catch StoreError.keyRequired {
                throw ValidationError("--from: \(from) is encrypted: give its key file with --key-file FILE. Nothing was copied.")
            }
            // Opened without the key: a store opened with one would make a data key of its own.
            let target = try await PostgresStore(location: location, schema: location.schema)
            defer { target.close() }
            print("Copying \(from) into \(location) …")
            do {
                let reports = try await StoreCopy(from: source, to: target).run { report in
                    print("  \(report.table.padding(toLength: 16, withPad: " ", startingAt: 0)) \(String(report.rows).leftPadded(to: 9)) rows  verified  sha256 \(report.digest.prefix(16))…")
                }
                let total = reports.reduce(0) { $0 + $1.rows }
                print("Copied and verified \(total) rows in \(reports.count) tables: every table's count and digest are the same in PostgreSQL.")
                if let key, source.isEncrypted {
                    let reopened = try await PostgresStore(location: location, schema: location.schema, key: key)
                    reopened.close()
                    print("The copy is encrypted as the SQLite store was, and opens with \(key.file) (key id \(key.id)): keep encryption.keyFile as it is.")
                }
                print("Point store: in stagelink.yaml at \(location) and start the service.")
            } catch let error as StoreCopyError {
                printToStandardError("stagelink store copy: \(error)")
                throw ExitCode(3)
            }
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
