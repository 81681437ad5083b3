"""The crash test: the real binary SIGKILLed at every named crash point and at seeded random
moments while `run`, `sync`, `retry` and `policy set` work, restarted each time, then compared
with the sandbox's seeded truth. People edit, delete and merge records on both sides throughout.

After every kill: the store passes `PRAGMA integrity_check`, the sandbox holds no duplicate, and
(after a policy change) the rule and its audit trail agree. At the end, with the sandbox quiet:
nothing lost, nothing duplicated, every bad record failed naming its field (see verdict.py).
"""
import os
import random
import re
import sqlite3
import time

import verdict
from harness import REPOSITORY, ProofFailure, Sandbox, Workspace, new_folder

# Each named point with the command that reaches it and how many times to let it pass first.
NAMED = [
    ("pull.page", ["sync"], (1, 3)),
    ("stage.before-commit", ["sync"], (1, 4)),
    ("upsert.sent", ["run", "--every", "1s"], (1, 3)),
    ("record.before-commit", ["run", "--every", "1s"], (1, 5)),
    ("emr.created", ["sync", "--outbound"], (1, 2)),
    ("writeback.sent", ["sync", "--outbound"], (1, 2)),
    ("retry.refreshed", ["retry", "FAILED-ROWS"], (1, 1)),
    ("policy.before-commit", ["policy", "set", "Contact.Phone", "NEXT-RULE", "--reason", "crash test"], (1, 1)),
]

# A certified EHR is pulled with Bulk Data export: its own points, reached by a sync's export.
BULK_NAMED = [
    ("bulk.polling", ["sync"], (1, 2)),
    ("bulk.file-staged", ["sync"], (1, 1)),
]

# Loads larger than salesforce.bulkThreshold go to Salesforce through Bulk API 2.0 jobs: their points
# are reached by the first syncs of the fresh store (before the random kills), which link the seed's
# Contacts and Assessments in jobs; a killed job's rows are sent again in a new job, never duplicated.
BULK_INGEST_THRESHOLD = 300
BULK_INGEST_NAMED = [
    ("bulk-ingest.uploaded", ["sync"], (1, 1)),
    ("bulk-ingest.polling", ["sync"], (1, 2)),
]

# A certified EHR has no conditional create: admissions go out as a search by identifier then a
# plain create, with a create intent recorded before the POST (docs/emr-profiles.md).
CERTIFIED_WRITES_NAMED = [
    ("emr.create-intent", ["sync", "--outbound"], (1, 2)),
]

# Commands for random kills, with their weight and the longest delay before the kill when their
# duration is not known yet. Once a command has run to its end, the delay is drawn within its
# measured duration, so that kills land inside the work rather than after it; `run` is killed half
# the time within its first cycle, half the time in a later cycle or between cycles.
# The points that a push of an admission reaches; they need an admission that became ready.
ADMISSION_POINTS = {"emr.create-intent", "emr.created", "writeback.sent"}
READY = "Ready for Intake"

RANDOM = [
    (["sync"], 45, 3.0),
    (["run", "--every", "1s"], 30, 4.0),
    (["retry", "--all-failed"], 15, 1.5),
    (["policy", "set", "Contact.Phone", "NEXT-RULE", "--reason", "crash test"], 10, 0.8),
]
RUN_LATER_KILL = 4.0

POLICY_RULES = ["salesforce-unless-blank", "salesforce"]

# The share of the mutation driver's edits that delete or merge a record (Contact or Patient): 4%,
# as in the "at a configurable rate" (`--deletion-share` sets another; 0 turns them off). The
# kills land between an upsert and its recorded answer too: a Patient removed after such a kill has a
# Contact the store never linked, which its deletion or merge finds by its external id (issue 16).
DELETION_SHARE = 0.04


def transient_codes():
    """The error codes the service retries by itself, read from the engine's catalogue of error
    codes (`ErrorCode`: each case's raw value, and its entry's handling)."""
    with open(os.path.join(REPOSITORY, "Sources", "StagelinkEngine", "Domain", "ErrorCode.swift")) as handle:
        source = handle.read()
    raw = dict(re.findall(r'^\s*case (\w+) = "([^"]+)"', source, re.M))
    transient = re.findall(r"^\s*case \.(\w+): Entry\(\.\w+, \.transient\b", source, re.M)
    if not raw or not transient or any(name not in raw for name in transient):
        raise ProofFailure("the transient codes of ErrorCode were not found")
    return {raw[name] for name in transient}


TRANSIENT_CODES = transient_codes()

SIZES = {
    "ci": {"patients": 1000, "random_kills": 40},
    "full": {"patients": 5000, "random_kills": 300},
    # The certified run in CI: the named points (bulk ones included) and a few random kills.
    "ci-certified": {"patients": 1000, "random_kills": 12},
}


class CrashTest:
    def __init__(self, binary, size, seed, log, profile="generic", deletion_share=DELETION_SHARE):
        self.binary = binary
        self.profile = profile
        self.deletion_share = deletion_share
        self.size = dict(SIZES["ci-certified" if profile == "certified" and size == "ci" else size])
        self.named = NAMED + (BULK_NAMED + CERTIFIED_WRITES_NAMED if profile == "certified" else [])
        self.bulk_ingest_named = BULK_INGEST_NAMED if profile == "generic" else []
        self.random = random.Random(seed)
        self.seed = seed
        self.log = log
        self.rounds = []
        self.problems = []
        self.newest_job = 0
        self.durations = {}

    def run(self):
        folder = new_folder("stagelink-crash-")
        self.log("crash test (%s EHR): seed %d, %d patients, %d named points + %d random kills, in %s"
                 % (self.profile, self.seed, self.size["patients"], len(self.named) + len(self.bulk_ingest_named), self.size["random_kills"], folder))
        started = time.time()
        # With --deletion-share, people also delete and merge records on both sides: the verdict expects
        # each removal to reach the other side by its rule, and nothing written to a removed record after it.
        sandbox = Sandbox(self.binary, folder, patients=self.size["patients"], bad_share=0.05, seed=self.seed, profile=self.profile,
                          deletion_share=self.deletion_share)
        try:
            workspace = Workspace(self.binary, folder, sandbox, bulk_threshold=BULK_INGEST_THRESHOLD if self.bulk_ingest_named else None)
            self.reserved = self.reserve_admissions(sandbox)
            # The first loads, large enough for Bulk API 2.0 jobs: killed inside them.
            self.named_phase(workspace, sandbox, self.bulk_ingest_named)
            # People edit both sides throughout: every cycle has work, new admissions become ready.
            sandbox.call("POST", "/_sandbox/mutations/start?intervalMilliseconds=100")
            # Random kills first, on the fresh store, so that many land in the big first pulls and links.
            self.random_phase(workspace, sandbox)
            self.named_phase(workspace, sandbox)
            sandbox.call("POST", "/_sandbox/mutations/stop")
            self.settle(workspace, sandbox)
            problems, checked = verdict.judge(sandbox, workspace)
            self.problems += problems
            statuses = verdict.row_statuses(workspace)
        finally:
            sandbox.stop()
        kills = [r for r in self.rounds if r["killed"]]
        self.log("")
        mid_job = sum(1 for r in kills if r["kind"] == "random" and r["doing"].startswith("job "))
        self.log("%d kills (%d at named points, %d at random moments, %d of them inside a running job) in %d rounds, %.0fs"
                 % (len(kills), sum(1 for r in kills if r["kind"] == "named"), sum(1 for r in kills if r["kind"] == "random"), mid_job,
                    len(self.rounds), time.time() - started))
        self.log("checked %s; current rows: %s" % (", ".join("%d %s" % (n, t) for t, n in sorted(checked.items())), statuses))
        return {"kind": "crash" if self.profile == "generic" else "crash-" + self.profile, "profile": self.profile, "seed": self.seed, "size": self.size, "rounds": self.rounds, "problems": self.problems,
                "kills": len(kills), "seconds": round(time.time() - started, 1), "checked": dict(checked), "rows": statuses}

    # MARK: - Phases

    def named_phase(self, workspace, sandbox, named=None):
        for point, command, (low, high) in (self.named if named is None else named):
            if point == "retry.refreshed":
                # A retry needs failed rows: let one whole cycle finish first (a restart, no crash).
                self.restart(workspace, sandbox)
            times = self.random.randint(low, high)
            if point in ADMISSION_POINTS:
                self.make_ready(sandbox, times)
            args = self.arguments(workspace, command)
            self.newest_job = self.max_job(workspace)
            run = workspace.run(*args, env={"STAGELINK_CRASH_AT": "%s:%d" % (point, times)}, timeout=240)
            reached = run.died_of_sigkill and ("crash point %s reached" % point) in run.stderr
            outcome = "killed by the hook (pass %d)" % times if reached else "NOT REACHED (exit %s)" % run.returncode
            if not reached:
                self.problems.append("named point %s was not reached by `stagelink %s`: %s" % (point, " ".join(args), run.stderr[-300:]))
            self.after_kill(workspace, sandbox, "named", point, args, outcome, run, reached)

    def reserve_admissions(self, sandbox):
        """Good admissions set aside (Closed, which the mutation driver leaves alone) for the named
        points of the admissions push: by then, on a long run, the driver has made every other
        admission ready and the push found them all."""
        bad = {record["id"] for record in sandbox.truth() if record["type"] == "Admission__c" and not record["good"]}
        waiting = [admission["Id"] for admission in sandbox.salesforce_records("Admission__c")
                   if admission.get("Stage__c") in ("New", "Screening") and admission.get("Contact__c") and admission["Id"] not in bad]
        needed = sum(high for point, _, (_, high) in self.named if point in ADMISSION_POINTS)
        reserved = waiting[:needed]
        if len(reserved) < needed:
            raise ProofFailure("the seed has %d admissions to set aside for the push's crash points, %d needed" % (len(reserved), needed))
        for admission in reserved:
            sandbox.call("PATCH", "/_sandbox/edit/salesforce/Admission__c/" + admission, {"Stage__c": "Closed"})
        return reserved

    def make_ready(self, sandbox, count):
        """A person moves `count` of the set-aside admissions to Ready for Intake."""
        for admission in self.reserved[:count]:
            sandbox.call("PATCH", "/_sandbox/edit/salesforce/Admission__c/" + admission, {"Stage__c": READY})
        self.reserved = self.reserved[count:]

    def random_phase(self, workspace, sandbox):
        wanted = self.size["random_kills"]
        attempts = 0
        while sum(1 for r in self.rounds if r["kind"] == "random" and r["killed"]) < wanted and attempts < wanted * 4:
            attempts += 1
            command, _, longest = self.pick()
            args = self.arguments(workspace, command)
            delay = round(self.random.uniform(0.02, self.kill_window(command, longest)), 3)
            self.newest_job = self.max_job(workspace)
            run = workspace.run(*args, kill_after=delay, timeout=240)
            self.durations.setdefault(command[0], [])
            if not run.killed_by_us:
                self.durations[command[0]] = (self.durations[command[0]] + [run.seconds])[-5:]
            if run.killed_by_us:
                self.after_kill(workspace, sandbox, "random", "after %.3fs" % delay, args, "killed by the harness", run, True)
            else:
                if run.returncode not in (0, 1, 2):
                    self.problems.append("`stagelink %s` exited %s: %s" % (" ".join(args), run.returncode, run.stderr[-300:]))
                self.rounds.append({"kind": "random", "point": "after %.3fs" % delay, "command": " ".join(args), "killed": False,
                                    "outcome": "finished first (exit %s, %.2fs)" % (run.returncode, run.seconds)})
        if attempts >= wanted * 4:
            self.problems.append("only %d random kills landed in %d attempts" % (wanted, attempts))

    def settle(self, workspace, sandbox):
        """Faults and edits stopped: cycles until nothing is left to do. Rows claimed by a killed
        `retry` stay claimed until their claim lapses (two minutes): the harness waits for that."""
        for number in range(1, 7):
            run = workspace.run("sync", timeout=600)
            if run.returncode == 3:
                self.problems.append("after the kills, `sync` found the lease held: %s" % run.stderr[-300:])
            pending = self.pending(workspace)
            self.log("settling cycle %d: exit %s, %d rows still staged or transiently failed" % (number, run.returncode, pending))
            if pending == 0 and number >= 2:
                return
            if pending and self.claims_lapse_in(workspace) > 0:
                wait = self.claims_lapse_in(workspace)
                self.log("waiting %.0fs for the claims of a killed retry to lapse" % wait)
                time.sleep(wait + 1)

    # MARK: - Helpers

    def kill_window(self, command, longest):
        """How long after its start a command is killed at the latest: within its measured duration."""
        name = "sync" if command[0] == "run" else command[0]
        measured = sorted(self.durations.get(name) or [])
        window = measured[len(measured) // 2] * 1.1 if measured else longest
        if command[0] == "run" and self.random.random() < 0.5:
            window = RUN_LATER_KILL
        return max(window, 0.05)

    def pick(self):
        total = sum(weight for _, weight, _ in RANDOM)
        draw = self.random.uniform(0, total)
        for command, weight, longest in RANDOM:
            draw -= weight
            if draw <= 0:
                return command, weight, longest
        return RANDOM[-1]

    def arguments(self, workspace, command):
        args = []
        for part in command:
            if part == "NEXT-RULE":
                # Always a change (the other rule than the one in force), so that it reaches the store.
                rules = {"%s.%s" % (rule["object"], rule["field"]): rule["rule"] for rule in workspace.json("policy")}
                args.append(POLICY_RULES[1] if rules.get("Contact.Phone") == POLICY_RULES[0] else POLICY_RULES[0])
            elif part == "FAILED-ROWS":
                failed = workspace.json("rows", "--status", "failed", "--object", "Patient", "--limit", "5")
                if not failed:
                    raise ProofFailure("no failed Patient rows to retry after a whole cycle")
                args += [str(row["id"]) for row in failed]
            else:
                args.append(part)
        return args

    def restart(self, workspace, sandbox):
        run = workspace.run("sync", timeout=600)
        self.rounds.append({"kind": "restart", "point": "-", "command": "sync", "killed": False,
                            "outcome": "finished (exit %s, %.1fs)" % (run.returncode, run.seconds)})

    def after_kill(self, workspace, sandbox, kind, point, args, outcome, run, killed):
        """What the process was doing when it died, and the checks that must hold after any kill."""
        doing = "no job running (starting up, or between cycles)"
        jobs = workspace.json("jobs", "--limit", "1")
        if "policy" in args:
            doing = self.policy_consistency(workspace)
        elif jobs and jobs[0]["status"] == "running" and jobs[0]["id"] > self.newest_job:
            job = jobs[0]
            progress = job["progress"]
            doing = "job %s %s %s: %s %s%s" % (job["id"], job["kind"], job["direction"] or "", progress["phase"], progress["done"],
                                               "/%s" % progress["total"] if progress.get("total") is not None else "")
        integrity = workspace.integrity()
        duplicates = verdict.duplicates(sandbox)
        checks = "integrity %s, %d duplicates" % (integrity, len(duplicates))
        if integrity != "ok":
            self.problems.append("after the kill at %s: integrity_check %s" % (point, integrity))
        for line in duplicates:
            self.problems.append("after the kill at %s: %s" % (point, line))
        round_ = {"kind": kind, "point": point, "command": " ".join(args), "killed": killed, "outcome": outcome,
                  "doing": doing, "checks": checks, "seconds": round(run.seconds, 2)}
        self.rounds.append(round_)
        self.log("%3d %-7s %-22s %-34s %-28s %s | %s" % (len(self.rounds), kind, point, ("stagelink " + " ".join(args))[:34], outcome[:28], doing[:70], checks))

    def policy_consistency(self, workspace):
        """The rule in force equals the newest audit entry's new rule: a change is whole or absent."""
        rules = {"%s.%s" % (rule["object"], rule["field"]): rule["rule"] for rule in workspace.json("policy")}
        audit = workspace.json("policy", "audit", "--field", "Contact.Phone", "--limit", "1")
        newest = audit[0]["newRule"] if audit else None
        if newest != rules.get("Contact.Phone"):
            self.problems.append("policy: Contact.Phone is %s but its newest audit entry says %s" % (rules.get("Contact.Phone"), newest))
            return "policy and audit DISAGREE"
        return "policy Contact.Phone = %s, audit agrees" % newest

    def max_job(self, workspace):
        connection = sqlite3.connect(workspace.store, timeout=30)
        try:
            return connection.execute("SELECT COALESCE(MAX(id), 0) FROM job").fetchone()[0]
        except sqlite3.OperationalError:
            return 0  # no store yet
        finally:
            connection.close()

    def pending(self, workspace):
        rows = workspace.json("rows", "--status", "staged", "--limit", "100000")
        failed = workspace.json("rows", "--status", "failed", "--limit", "100000")
        return len(rows) + sum(1 for row in failed if row["errorCode"] in TRANSIENT_CODES)

    def claims_lapse_in(self, workspace):
        connection = sqlite3.connect(workspace.store, timeout=30)
        try:
            latest = connection.execute("SELECT MAX(claimedUntil) FROM staged_row WHERE claimedUntil IS NOT NULL").fetchone()[0]
        finally:
            connection.close()
        return max(0.0, (latest or 0) - time.time())
