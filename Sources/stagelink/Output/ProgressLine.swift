import Foundation
import StagelinkEngine

#if canImport(Glibc)
import Glibc
#endif

/// Shows long work as it goes: on a terminal one line rewritten in place (records, rate, ETA);
/// otherwise a plain line per finished job, so logs and CI output stay readable.
actor ProgressLine {
    private let store: any HistoryReader
    private let isTerminal = isatty(STDOUT_FILENO) == 1
    private var reported = Set<Int64>()
    private var firstJob: Int64?
    private var lastLength = 0

    init(store: any HistoryReader) {
        self.store = store
    }

    /// Polls the store's jobs until cancelled.
    func follow(after jobID: Int64?) async {
        firstJob = jobID
        while !Task.isCancelled {
            await update()
            try? await Task.sleep(for: .milliseconds(isTerminal ? 250 : 1_000))
        }
    }

    func update() async {
        guard let jobs = try? await store.jobs(before: nil, limit: 10) else { return }
        let mine = jobs.filter { $0.id > (firstJob ?? 0) }.sorted { $0.id < $1.id }
        for job in mine where job.status != .running && !reported.contains(job.id) {
            reported.insert(job.id)
            clear()
            print(Self.finishedLine(job))
        }
        if isTerminal, let running = mine.last(where: { $0.status == .running }) {
            let line = DisplayText.escaped(Self.runningLine(running))
            let padding = String(repeating: " ", count: max(0, lastLength - DisplayText.width(line)))
            FileHandle.standardOutput.write(Data(("\r" + line + padding).utf8))
            lastLength = DisplayText.width(line)
        }
    }

    func finish() async {
        await update()
        clear()
    }

    private func clear() {
        guard isTerminal, lastLength > 0 else { return }
        FileHandle.standardOutput.write(Data(("\r" + String(repeating: " ", count: lastLength) + "\r").utf8))
        lastLength = 0
    }

    static func runningLine(_ job: Job) -> String {
        let elapsed = max(0.001, Date().timeIntervalSince(job.startedAt))
        let rate = Double(job.progress.done) / elapsed
        var line = "▸ \(job.direction?.rawValue ?? "") \(job.progress.phase): \(job.progress.done.formatted())"
        if let total = job.progress.total, total > 0 {
            line += "/\(total.formatted())"
            if rate > 0, total > job.progress.done { line += "  ETA \(Int(Double(total - job.progress.done) / rate))s" }
        }
        line += "  \(Int(rate).formatted()) records/s"
        return line
    }

    static func finishedLine(_ job: Job) -> String {
        let seconds = (job.finishedAt ?? Date()).timeIntervalSince(job.startedAt)
        let counts = job.counts
        var parts = ["\(job.kind.rawValue) \(job.direction?.rawValue ?? "")", job.status.rawValue]
        if counts.pulled > 0 || job.kind == .pull { parts.append("pulled \(counts.pulled), staged \(counts.staged), deduplicated \(counts.deduplicated)") }
        if job.kind != .pull {
            parts.append("linked \(counts.linked), failed \(counts.failed), superseded \(counts.superseded), conflicts \(counts.conflicts)"
                + (counts.withheld > 0 ? ", withheld \(counts.withheld)" : ""))
        }
        parts.append("\(job.apiCalls) API calls")
        parts.append(String(format: "%.1fs", seconds))
        if let message = job.message, job.status != .succeeded { parts.append(message) }
        return "job \(job.id): " + parts.joined(separator: " · ")
    }
}
