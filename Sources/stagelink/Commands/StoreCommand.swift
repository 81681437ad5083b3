import ArgumentParser
import Foundation
import StagelinkEngine
import StagelinkPostgres
import StagelinkStore

/// `stagelink store`: the store's encryption at rest (docs/security.md#encryption-at-rest).
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "The store's encryption key (make one, replace it, see where it stands), its migrations, and moving a store to PostgreSQL.",
        discussion: """
            With encryption.keyFile in stagelink.yaml, the store seals payloads and the copies of \
            field values with a data key that this key file wraps; the first command that writes \
            seals what the store already held (a PostgreSQL store is encrypted from its start). \
            Without it the store is in the clear, which is for development only. keygen, rekey and \
            info work on a SQLite file and on a PostgreSQL store alike.

            Examples:
              stagelink store keygen /etc/stagelink/store.key
              stagelink store rekey
              stagelink store info
              stagelink store copy --from store.sqlite --to postgres://stagelink@db.example.org:5432/stagelink
              stagelink store migrate
            """,
        subcommands: [KeygenCommand.self, RekeyCommand.self, InfoCommand.self, CopyCommand.self, MigrateCommand.self]
    )

    /// `stagelink store keygen FILE`.
    struct KeygenCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "keygen",
            abstract: "Writes a new store key (32 random bytes, base64, mode 0600) to a new file.",
            discussion: """
                Name the file in stagelink.yaml (encryption: { keyFile: FILE }); the next command \
                that writes the store encrypts it. Keep the file on this host, out of backups of the \
                store: a backup and its key together are a backup in the clear.

                Example:
                  stagelink store keygen /etc/stagelink/store.key
                """
        )

        @Argument(help: "The key file to create (refused when it exists).")
        var file: String

        func run() throws {
            let key = try StoreKey.generate(at: file)
            print("Wrote a store key to \(file) (mode 0600), key id \(key.id).")
            print("Name it in stagelink.yaml:  encryption: { keyFile: \(file) }")
        }
    }

    /// `stagelink store rekey`.
    struct RekeyCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rekey",
            abstract: "Replaces the key that wraps the store's data key without stopping the service; with --data-key, the data key itself.",
            discussion: """
                The store's data key is wrapped by the new key in one transaction; payloads and \
                values are not re-encrypted (they stay sealed by the same data key), so a running \
                service goes on undisturbed, and the rekey takes milliseconds whatever the store's \
                size. Without --new-key-file, a new key is written beside the configured one \
                (FILE.new) and then moved over it; a command that starts in between finds it there. \
                With --new-key-file, that key (made if the file does not exist) wraps the data key: \
                then set encryption.keyFile to it. Destroy the old key afterwards. Every rekey is \
                recorded (`stagelink store info`).

                With --data-key (after a suspected leak of the data key or of a key file with a \
                copy of the store), a new data key replaces the old one: every payload, field \
                state, lineage and conflict value is sealed again with it, content hashes and the \
                blind person index are made again, in batches of one transaction each, with the old \
                bytes overwritten. It takes time in proportion to the store and writes wait for it: \
                stop the service first (it is refused while a service holds the store's lease). If \
                it is interrupted, the store still opens and reads, takes no writes, and running the \
                same command again finishes it. The key file stays the same. On a SQLite file and a \
                PostgreSQL store alike.

                Examples:
                  stagelink store rekey
                  stagelink store rekey --new-key-file /etc/stagelink/store-2027.key --operator alice
                  stagelink store rekey --data-key --operator alice
                """
        )

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var operatorOptions: OperatorOptions

        @Option(name: .customLong("new-key-file"), help: "The new key file (made when it does not exist); default: replace the configured one.")
        var newKeyFile: String?

        @Flag(name: .customLong("data-key"), help: "Rotate the data key itself: seal every payload and value again (stop the service first).")
        var dataKey = false

        func validate() throws {
            if dataKey, newKeyFile != nil { throw ValidationError("--data-key keeps the key file: give --new-key-file to a rekey of its own.") }
        }

        func run() async throws {
            let context = try await Context.open(storeOptions, for: .writing)
            let store = try context.encryptedStore(for: "stagelink store rekey")
            guard let key = store.key, store.isEncrypted, let configured = context.configuration?.encryptionKeyFile else {
                throw ValidationError("The store is not encrypted: name a key file in stagelink.yaml (encryption: { keyFile: FILE }, made by `stagelink store keygen FILE`) first.")
            }
            if dataKey { return try await rotateDataKey(store, leases: context.store) }
            guard key.file == configured else {
                throw ValidationError("A rekey was interrupted: the store opens with \(key.file), not with \(configured). Move \(key.file) over \(configured) (`stagelink store info` shows its key id), then run again.")
            }
            let replacing = newKeyFile == nil
            let newFile = newKeyFile ?? key.file + ".new"
            let newKey: StoreKey
            if FileManager.default.fileExists(atPath: newFile) {
                guard !replacing else {
                    throw ValidationError("\(newFile) exists: a rekey was interrupted. If `stagelink store info` shows its key id, move it over \(key.file); otherwise remove it and run again.")
                }
                newKey = try StoreKey.load(file: newFile)
            } else {
                newKey = try StoreKey.generate(at: newFile)
            }
            guard newKey.id != key.id else { throw ValidationError("\(newFile) holds the key the store is already wrapped with.") }
            try await store.rewrapDataKey(with: newKey, actor: .operator(operatorOptions.resolved))
            if replacing {
                guard rename(newFile, key.file) == 0 else {
                    throw ValidationError("The store is now wrapped by \(newFile) (key id \(newKey.id)), which could not be moved over \(key.file): \(String(cString: strerror(errno))). Move it by hand.")
                }
                print("Rekeyed: the store's data key is wrapped by a new key in \(key.file) (key id \(newKey.id), was \(key.id)).")
            } else {
                print("Rekeyed: the store's data key is wrapped by \(newFile) (key id \(newKey.id), was \(key.id)).")
                print("Set encryption.keyFile to \(newFile) in stagelink.yaml, then destroy \(key.file).")
            }
            print("Payloads were not re-encrypted: they stay sealed by the same data key. A running service goes on as it was.")
        }

        /// `--data-key`: refused while a service holds the lease (its writes would be refused, and
        /// it would go on sealing with the old key after); progress every 100 batches.
        private func rotateDataKey(_ store: any EncryptedStore, leases: any SyncStore) async throws {
            if let lease = try await leases.currentLease(), lease.expiresAt > Date() {
                throw ValidationError(
                    "The service \(lease.holder) holds the store's lease (until \(lease.expiresAt.shortText)): stop it, then run again. A data-key rotation takes the store's writes while it runs.")
            }
            let rotation = try await store.rotateDataKey(actor: .operator(operatorOptions.resolved), batchSize: 500) { batches in
                if batches % 100 == 0 { print("… \(batches) batches sealed again") }
            }
            print(
                "\(rotation.resumed ? "Finished an interrupted rotation" : "Rotated the data key"): \(rotation.previousDataKeyID) → \(rotation.dataKeyID); "
                    + "\(rotation.rows) staged rows and \(rotation.values) field states, lineage entries and conflicts sealed again.")
            print("The key file is unchanged. Start the service again. Backups made before hold the old data key: protect or destroy them.")
        }
    }

    /// `stagelink store info`.
    struct InfoCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "info",
            abstract: "Whether the store is encrypted, with which key, and its key history.",
            discussion: """
                Example:
                  stagelink store info
                """
        )

        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let context = try await Context.open(storeOptions, for: .reading)
            let store = try context.encryptedStore(for: "stagelink store info")
            print("Store       \(context.storeName)")
            guard let standing = try await store.encryptionStanding() else {
                print("Encryption  none: payloads and values are in the clear (for development only; docs/security.md)")
                return
            }
            print("Encryption  AES-256-GCM; content hashes are HMAC-SHA-256")
            print("Key file    \(store.key?.file ?? "—")  key id \(standing.keyID)")
            print("Encrypted   \(standing.createdAt.shortText)   last rekey \(standing.rewrappedAt == standing.createdAt ? "never" : standing.rewrappedAt.shortText)")
            if standing.rotating {
                print("Rotation    a data-key rotation is unfinished: the store reads, takes no writes; run `stagelink store rekey --data-key` to finish it")
            }
            var table = TextTable("ID", "WHEN", "WHO", "EVENT", "KEY ID", "PREVIOUS")
            for event in try await store.keyEvents(limit: 50) {
                table.add(String(event.id), event.at.shortText, event.actor.description, event.event, event.keyID, event.previousKeyID ?? "—")
            }
            print("")
            print(table.render())
        }
    }
}

extension Context {
    /// The store as `stagelink store rekey` and `store info` see it: a SQLite file or a PostgreSQL
    /// server alike.
    func encryptedStore(for command: String) throws(SetupError) -> any EncryptedStore {
        if let file { return file }
        guard let server = store as? PostgresStore else {
            throw SetupError(.store, "\(command) works on a SQLite store file or a PostgreSQL store; \(storeName) is neither.")
        }
        return server
    }
}
