import Foundation
import GRDB
import StagelinkEngine

/// A row of `row_transition`: one status change of a staged row.
struct RowTransitionRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "row_transition"

    var id: Int64?
    var rowID: Int64
    var fromStatus: String?
    var toStatus: String
    var at: Double
    var actor: String
    var note: String?

    var transition: RowTransition {
        get throws {
            try RowTransition(
                rowID: rowID, from: StoredValue.decode(fromStatus, "row_transition.fromStatus"), to: StoredValue.decode(toStatus, "row_transition.toStatus"),
                at: Date(timeIntervalSince1970: at), actor: Actor(actor), note: note)
        }
    }
}

/// A row of `link_attempt`: one try at linking a staged row.
struct LinkAttemptRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "link_attempt"

    var id: Int64?
    var rowID: Int64
    var number: Int
    var at: Double
    var actor: String
    var outcome: String
    var errorCode: String?
    var errorMessage: String?
    var errorFields: String?
    var errorBody: String?

    var attempt: LinkAttempt {
        get throws {
            try LinkAttempt(
                rowID: rowID, number: number, at: Date(timeIntervalSince1970: at), actor: Actor(actor),
                outcome: StoredValue.decode(outcome, "link_attempt.outcome"),
                error: LinkErrorColumns.error(code: errorCode, message: errorMessage, fields: errorFields, body: errorBody))
        }
    }
}

/// A row of `event`: a line of the service's activity.
struct EventRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "event"

    var id: Int64?
    var at: Double
    var jobID: Int64?
    var level: String
    var message: String

    init(_ event: SyncEvent) {
        at = event.at.timeIntervalSince1970
        jobID = event.jobID
        level = event.level.rawValue
        message = StoredText.storable(event.message)
    }

    var event: SyncEvent {
        get throws {
            try SyncEvent(at: Date(timeIntervalSince1970: at), jobID: jobID, level: StoredValue.decode(level, "event.level"), message: message)
        }
    }
}

/// A row of `lease`: which process runs cycles against this store, until when.
struct LeaseRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "lease"
    static let serviceLease = "service"

    var name: String
    var holderName: String
    var host: String
    var pid: Int32
    var since: Double
    var expiresAt: Double
    /// The fencing token: the `lease_grant` that gave the lease to this holder.
    var epoch: Int64

    var holder: LeaseHolder { LeaseHolder(name: holderName, host: host, pid: pid) }

    var lease: Lease {
        Lease(holder: holder, since: Date(timeIntervalSince1970: since), expiresAt: Date(timeIntervalSince1970: expiresAt), epoch: epoch)
    }
}

/// A row of `watermark`: how far a resource type has been durably staged.
struct WatermarkRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "watermark"

    var system: String
    var resourceType: String
    var value: Double
    var jobID: Int64?
    var updatedAt: Double
}
