import ArgumentParser
import FHIRClient
import Foundation
import StagelinkEngine
import StagelinkHTTP

/// `stagelink keys`: the key pair that signs Stagelink's SMART Backend Services assertions, and
/// the public JWK set the EHR checks them with.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Makes the EMR sign-in key and prints the public JWK set to register with the EHR.",
        discussion: """
            SMART Backend Services signs each token request with a private key; the EHR checks it with the \
            public key, which it reads from a JWK set (Epic wants the set hosted at an https URL). The key's \
            kid is its RFC 7638 thumbprint, and Stagelink sends it with every assertion.

            Steps: generate a key, point emr.privateKeyFile (and emr.algorithm) at it, host the output of \
            `keys jwks` at a URL, register that URL with the EHR, and set emr.jwksURL to it. To rotate, \
            generate a new key and publish both (`keys jwks --also OLD.pem`) until the EHR has the new one.

            Examples:
              stagelink keys generate --algorithm ES384 --out /etc/stagelink/keys
              stagelink keys jwks --config /etc/stagelink/stagelink.yaml > jwks.json
            """,
        subcommands: [Generate.self, JWKS.self]
    )

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate", abstract: "Writes a new private key (mode 0600) and prints its kid.",
            discussion: "Example:\n  stagelink keys generate --algorithm RS384 --out /etc/stagelink/keys")

        @Option(help: "ES384 (a P-384 key) or RS384 (an RSA-3072 key).")
        var algorithm: SMARTAlgorithm = .es384

        @Option(help: "The folder that receives the key (created with mode 0700 if missing).")
        var out: String

        func run() async throws {
            let (file, kid) = try await write()
            print("""
                kid          \(kid)
                private key  \(file.path)   (mode 0600; keep it on this host)
                algorithm    \(algorithm.rawValue)

                In stagelink.yaml:
                  emr:
                    privateKeyFile: \(file.path)
                    algorithm: \(algorithm.rawValue)
                Then publish `stagelink keys jwks` at the URL registered with the EHR, and set emr.jwksURL to it.
                """)
        }

        /// Writes a new key into `out`: its file and its kid.
        func write() async throws -> (file: URL, kid: String) {
            let pem = try AssertionSigner.generateKeyPEM(algorithm.signing)
            let signer = try await AssertionSigner(privateKeyPEM: pem, algorithm: algorithm.signing)
            let kid = signer.publicJWK.thumbprint
            let folder = URL(fileURLWithPath: out)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let file = folder.appendingPathComponent("emr-\(algorithm.rawValue.lowercased())-\(kid.prefix(8)).pem")
            guard !FileManager.default.fileExists(atPath: file.path) else {
                throw ValidationError("\(file.path) already exists; it is left as it is.")
            }
            guard FileManager.default.createFile(atPath: file.path, contents: Data(pem.reveal().utf8), attributes: [.posixPermissions: 0o600]) else {
                throw ValidationError("Cannot write \(file.path).")
            }
            return (file, kid)
        }
    }

    struct JWKS: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "jwks", abstract: "Prints the public JWK set of the configured EMR key, to host at the registered URL.",
            discussion: """
                The set holds emr.privateKeyFile's public key under its kid (the RFC 7638 thumbprint, or emr.keyID \
                when the configuration names one), and the public keys of the --also files, for a rotation.

                Example:
                  stagelink keys jwks --config stagelink.yaml --also /etc/stagelink/keys/emr-es384-old.pem
                """)

        @Option(help: ArgumentHelp("The configuration file.", discussion: "Default: $STAGELINK_CONFIG, then ./stagelink.yaml."))
        var config: String?

        @Option(name: .customLong("also"), help: "Another private key whose public half the set also publishes (its algorithm is the configured one).")
        var others: [String] = []

        func run() async throws {
            guard let emr = try Context.loadConfiguration(config)?.emr else {
                throw ValidationError("No emr: section: this needs a configuration with emr.privateKeyFile (see docs/configuration.md).")
            }
            JSONOutput.print(try await Self.set(emr, also: others))
        }

        /// The public JWK set of `emr`'s key (under `emr.keyID` when set) and of the `also` keys.
        static func set(_ emr: FHIRConfiguration, also others: [String] = []) async throws -> JSONValue {
            var keys = [try await AssertionSigner(privateKeyFile: emr.privateKeyFile, algorithm: emr.signingAlgorithm).publicJWK.json(keyID: emr.keyID)]
            for file in others {
                keys.append(try await AssertionSigner(privateKeyFile: file, algorithm: emr.signingAlgorithm).publicJWK.json())
            }
            return .object(JSONObject(["keys": .array(keys)]))
        }
    }
}

/// The algorithms SMART Backend Services signs with.
enum SMARTAlgorithm: String, ExpressibleByArgument, CaseIterable {
    case es384 = "ES384"
    case rs384 = "RS384"

    init?(argument: String) { self.init(rawValue: argument.uppercased()) }

    var signing: AssertionSigner.Algorithm { self == .es384 ? .es384 : .rs384 }
}
