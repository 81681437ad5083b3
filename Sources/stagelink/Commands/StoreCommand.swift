import ArgumentParser
import Foundation
import StagelinkEngine
import StagelinkStore

/// `stagelink store`: the store's encryption at rest (docs/security.md#encryption-at-rest).
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "The store's encryption key: make one, replace it, and see where it stands.",
        discussion: """
            With encryption.keyFile in stagelink.yaml, the store seals payloads and the copies of \
            field values with a data key that this key file wraps; the first command that writes \
            seals what the store already held. Without it the store is in the clear, which is for \
            development only.

            Examples:
              stagelink store keygen /etc/stagelink/store.key
              stagelink store rekey
              stagelink store info
            """,
        subcommands: [KeygenCommand.self, RekeyCommand.self, InfoCommand.self]
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
            abstract: "Replaces the key that wraps the store's data key, without stopping the service.",
            discussion: """
                The store's data key is wrapped by the new key in one transaction; payloads and \
                values are not re-encrypted (they stay sealed by the same data key), so a running \
                service goes on undisturbed, and the rekey takes milliseconds whatever the store's \
                size. Without --new-key-file, a new key is written beside the configured one \
                (FILE.new) and then moved over it; a command that starts in between finds it there. \
                With --new-key-file, that key (made if the file does not exist) wraps the data key: \
                then set encryption.keyFile to it. Destroy the old key afterwards. Every rekey is \
                recorded (`stagelink store info`).

                Examples:
                  stagelink store rekey
                  stagelink store rekey --new-key-file /etc/stagelink/store-2027.key --operator alice
                """
        )

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var operatorOptions: OperatorOptions

        @Option(name: .customLong("new-key-file"), help: "The new key file (made when it does not exist); default: replace the configured one.")
        var newKeyFile: String?

        func run() async throws {
            let context = try await Context.open(storeOptions, for: .writing)
            let file = try context.storeFile(for: "stagelink store rekey")
            guard let key = file.key, file.isEncrypted, let configured = context.configuration?.encryptionKeyFile else {
                throw ValidationError("The store is not encrypted: name a key file in stagelink.yaml (encryption: { keyFile: FILE }, made by `stagelink store keygen FILE`) first.")
            }
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
            try await file.rewrapDataKey(with: newKey, actor: .operator(operatorOptions.resolved))
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
            let store = try context.storeFile(for: "stagelink store info")
            print("Store       \(store.path)")
            guard let standing = try await store.encryptionStanding() else {
                print("Encryption  none: payloads and values are in the clear (for development only; docs/security.md)")
                return
            }
            print("Encryption  AES-256-GCM; content hashes are HMAC-SHA-256")
            print("Key file    \(store.key?.file ?? "—")  key id \(standing.keyID)")
            print("Encrypted   \(standing.createdAt.shortText)   last rekey \(standing.rewrappedAt == standing.createdAt ? "never" : standing.rewrappedAt.shortText)")
            var table = TextTable("ID", "WHEN", "WHO", "EVENT", "KEY ID", "PREVIOUS")
            for event in try await store.keyEvents(limit: 50) {
                table.add(String(event.id), event.at.shortText, event.actor.description, event.event, event.keyID, event.previousKeyID ?? "—")
            }
            print("")
            print(table.render())
        }
    }
}
