import StagelinkEngine

/// The roles of the store the console reads: rows and their evidence, history, the policy, the
/// lease (for health), and the change token it polls; it writes only the access log (a payload is
/// logged before it is shown). Every change a person makes goes through ``ConsoleActions``.
///
/// Alerts are read when the store also keeps them (``AlertStore``).
public typealias ConsoleStore = RowReader & HistoryReader & PolicyReader & LeaseReader & AccessLogStore & ChangeTracking
