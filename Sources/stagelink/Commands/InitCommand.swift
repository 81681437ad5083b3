import ArgumentParser
import Foundation
import StagelinkDefaults

/// `stagelink init`: a starter configuration and mapping to edit.
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Writes a starter stagelink.yaml and mapping.yaml to edit: every key there is, explained.",
        discussion: """
            The mapping is the default one built into stagelink (the same as the repository's \
            config/mapping.yaml). Existing files are left alone unless --force is given. Then edit \
            stagelink.yaml (the REPLACE values and key files), check it with `stagelink status \
            --config DIR/stagelink.yaml`, and run `stagelink run --config DIR/stagelink.yaml`.

            Examples:
              stagelink init
              stagelink init --dir /etc/stagelink
            """
    )

    @Option(help: "The folder to write into (created if needed).")
    var dir = "."

    @Flag(help: "Overwrite stagelink.yaml and mapping.yaml if they exist.")
    var force = false

    func run() throws {
        let folder = URL(fileURLWithPath: dir)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let files = [("stagelink.yaml", StarterConfiguration.text), ("mapping.yaml", BuiltInFiles.mapping)]
        let existing = files.map(\.0).filter { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
        guard force || existing.isEmpty else {
            let verb = existing.count == 1 ? "exists" : "exist"
            FileHandle.standardError.write(Data("stagelink init: \(existing.joined(separator: " and ")) already \(verb) in \(folder.path): nothing written (--force overwrites).\n".utf8))
            throw ExitCode.failure
        }
        for (name, text) in files {
            try Data(text.utf8).write(to: folder.appendingPathComponent(name))
            print("wrote \(folder.appendingPathComponent(name).path)")
        }
        print("Next: edit stagelink.yaml (every REPLACE value), then `stagelink run --config \(folder.appendingPathComponent("stagelink.yaml").path)`.")
    }
}

/// The starter `stagelink.yaml`: a working shape with every key of `docs/configuration.md`, the
/// optional ones commented out at their defaults.
enum StarterConfiguration {
    static let text = """
        # stagelink.yaml: one deployment of Stagelink (docs/configuration.md explains every key).
        # Relative paths are relative to this file's folder. Any value may be ${ENVIRONMENT_VARIABLE}.
        # Secrets are never written here: name the files that hold them (mode 0600).

        # The SQLite store (created with mode 0600). Required.
        store: stagelink.sqlite
        # Or a PostgreSQL store (docs/configuration.md), TLS verified; the password from ${ENV} or a file:
        # store: { url: "postgres://stagelink@db.example.org:5432/stagelink?sslmode=verify-full", passwordFile: postgres.password }
        # The mapping and per-field conflict policy (docs/policy.md).
        mapping: mapping.yaml

        schedule:
          # Time between cycles of `stagelink run`, down to seconds.
          every: 15m
          # How far before the watermark each pull starts again; re-reads are deduplicated.
          # overlap: 2m
          # Records asked for per page of a delta pull (1-2000).
          # pageSize: 500
          # Rows that failed for a transient reason are retried until they have this many attempts.
          # automaticRetries: 5
          # How often a cycle also reconciles: compares every linked record's id and version on
          # both sides and stages what a delta pull missed (docs/operations.md, "Reconciliation").
          # reconcile: 24h

        salesforce:
          # https://login.salesforce.com, https://test.salesforce.com (sandboxes) or the org's My Domain.
          loginURL: https://login.salesforce.com
          # apiVersion: v60.0
          # The JWT assertion's aud, when it is not the login URL.
          # assertionAudience: https://login.salesforce.com
          # Share of the org's daily API limit at which Stagelink stops its calls cleanly.
          # limitShare: 0.8
          # Records per sObject Collections call (1-200).
          # batchSize: 200
          # Above this many rows for one object in a cycle, upserts go through Bulk API 2.0 (0: never).
          # bulkThreshold: 10000
          # Collections calls in flight at once while linking (1-64; docs/performance.md).
          # concurrency: 4
          auth:
            # jwt-bearer (consumerKey, username, privateKeyFile) or client-credentials (consumerKey, consumerSecretFile).
            flow: jwt-bearer
            consumerKey: REPLACE-with-the-connected-app-consumer-key
            username: REPLACE-integration-user@example.org
            privateKeyFile: keys/salesforce.pem
            # consumerSecretFile: keys/salesforce-consumer-secret
          # http:
          #   idleTimeout: 30s
          #   requestTimeout: 120s
          #   maxAttempts: 4
          #   maxConnections: 4

        emr:
          # The FHIR R4 base URL; <base>/.well-known/smart-configuration names the token endpoint.
          baseURL: https://REPLACE-fhir.example-ehr.com/r4
          # The SMART Backend Services client id.
          clientID: REPLACE-stagelink-backend
          privateKeyFile: keys/fhir-es384.pem
          # ES384 or RS384.
          # algorithm: ES384
          # The kid of the key in the JWK set registered with the EHR (default: the key's RFC 7638
          # thumbprint, as `stagelink keys generate` prints it).
          # keyID: REPLACE-key-id
          # Where the EHR reads the JWK set (`stagelink keys jwks`), sent as the assertion's jku.
          # jwksURL: https://REPLACE-stagelink.example.org/jwks.json
          # Default: the SMART v2 scopes the mapping needs (system/Patient.rs system/Patient.cu ...).
          # scope: system/Patient.rs system/Patient.cu
          # The EMR's time zone, for the dates of `from: datetime` fields.
          # timeZone: UTC
          # How changes are asked for: search (open servers) or bulk (Bulk Data $export; certified EHRs).
          # pull: search
          # bulk:
          #   group: REPLACE-group-id    # absent: a system-level export
          #   maxWait: 2h                # give up polling an export after this long
          #   since: true                # false when the EHR's export is not incremental
          # Other origins next links may name (the base URL's own origin is always allowed).
          # allowedOrigins: [https://REPLACE-fhir2.example-ehr.com]
          # How resources are created and updated; each left out follows the EHR's CapabilityStatement.
          # writes:
          #   create: conditional        # or search-then-create (no If-None-Exist: Oracle Health, Epic)
          #   update: put                # or patch (JSON Patch with If-Match)
          # Rows written to the EHR at once (1-64; docs/performance.md).
          # concurrency: 4
          # Admissions sent in one FHIR batch Bundle where the EHR offers batch (1-500; 1: one at a time).
          # batchSize: 50
          # http:
          #   idleTimeout: 30s
          #   requestTimeout: 120s
          #   maxAttempts: 4
          #   maxConnections: 4

        # How long the payloads of linked, superseded and ignored rows are kept (`stagelink purge`).
        # retention: { payloads: 90d }

        # Encryption at rest: the key file (mode 0600) that wraps the store's data key. Without it
        # the store keeps payloads in the clear (for development only). Make one with
        # `stagelink store keygen store.key`.
        # encryption: { keyFile: store.key }

        logging:
          # trace, debug, info, notice, warning, error or critical.
          level: info
          # text, or json (one JSON object per line, for log shippers).
          format: text

        service:
          # /metrics, /healthz, /readyz and /status of `stagelink run` (docs/monitoring.md). A port alone
          # listens on 127.0.0.1; name another address only behind a firewall.
          listen: 127.0.0.1:9464
          # Linking workers, each linking its own share of people at once (docs/scale.md).
          # workers: 1

        # How long the service's lease lasts without renewal: a standby (`stagelink run --standby` on
        # another host sharing a PostgreSQL store) takes over within this of the holder's death.
        # lease: { ttl: 30s }

        # Alerts posted to webhooks by `stagelink run` (docs/monitoring.md). `stagelink alerts test` checks them.
        # alerts:
        #   repeat: 4h              # a firing alert is sent again after this long
        #   evaluateEvery: 30s      # how often the rules are checked (also after every cycle)
        #   rules:                  # each rule may also take severity: warning | critical
        #     newErrorCode: {}
        #     failedRows: { above: 100 }
        #     noSuccessfulPull: { for: 1h }
        #     watermarkLag: { above: 2h }
        #     signInRefused: {}
        #     apiShare: { above: 0.8 }
        #     conflictsHeld: { above: 20 }
        #     exportStuck: { for: 30m }
        #   webhooks:
        #     - name: ops-slack
        #       url: ${STAGELINK_SLACK_WEBHOOK_URL}
        #       format: slack       # generic, slack or teams
        #       maxAttempts: 4
        #       timeout: 10s

        """
}
