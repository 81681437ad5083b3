import ArgumentParser
import Foundation
import StagelinkPostgres
import StagelinkStore

extension StoreCommand {
    /// `stagelink store migrate`: the one command that only creates or upgrades a store.
    struct MigrateCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "migrate",
            abstract: "Creates the store when it is not there, or brings a store an older Stagelink wrote to this build's schema.",
            discussion: """
                Only the commands that own the store create or migrate it: this one, the service \
                (`stagelink run`), `stagelink sync`, `stagelink reconcile`, the demo and `stagelink \
                store copy --to`. Every other command (status, rows, show, why, jobs, audit, the \
                console, retry, policy, …) refuses a store that is not there or that an older \
                Stagelink wrote, so that a mistyped file name, database or ?schema= never becomes a \
                new, empty store. Migrations run in one transaction (PostgreSQL: under an advisory \
                lock, so two processes starting at once migrate once); a store written by a newer \
                Stagelink is refused and left as it is.

                Examples:
                  stagelink store migrate
                  stagelink store migrate --store "postgres://stagelink@db.example.org:5432/stagelink?sslmode=verify-full&schema=site_b"
                """
        )

        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let context = try await Context.open(storeOptions, for: .owning)
            let version: Int
            if let file = context.file {
                version = try SQLiteStore.schemaVersion(at: file.path).stored
            } else if let server = context.store as? PostgresStore {
                version = try await server.appliedMigrations().count
                server.close()
            } else {
                throw ValidationError("\(context.storeName) is neither a SQLite file nor a PostgreSQL store.")
            }
            print("The store \(context.storeName) is at store version \(version), this build's.")
        }
    }
}
