"""The crash test with two service processes sharing one PostgreSQL store (docs/proof.md).

Two `stagelink run --standby` processes run against a fresh schema of one PostgreSQL database while
people edit both sides. Again and again the harness SIGKILLs the process that holds the store's lease,
at a seeded random moment (inside a job or between cycles), and starts it again at once as the new
standby; the other process, waiting as standby, takes the lease over and finishes the work.

After every kill: the sandbox holds no duplicate. For every kill, the failover time: from the kill
to the standby's first committed job (a job that ended succeeded, partial or failed). At the end,
with the sandbox quiet and both services stopped: the same verdict as the crash test (nothing lost,
nothing duplicated, no write to a record removed at its source, every bad record failed naming its
field), and fencing: the lease's grants (table `lease_grant`, append-only, one epoch per grant)
show that no holder was given the lease while the previous holder still lived, so that no two
processes ever ran cycles at once, and every killed process had died of its SIGKILL.

With `--freeze` the holder is not killed but frozen (SIGSTOP): alive, holding its connections, its
lease lapsing. The standby takes the lease over and commits its first job; then the frozen holder is
resumed (SIGCONT). Its next write carries the old epoch and is refused by the fencing (or its next
renewal finds the lease taken): it must stop by itself, saying so in its log (`…was refused: the
lease changed hands since…` or `…taken over by another process…`), and the sandbox must still hold
no duplicate. It is then started again as the standby.
"""
import os
import signal
import statistics
import subprocess
import time
import urllib.parse

import verdict
from crash import CrashTest
from harness import ProofFailure, Sandbox, Workspace, new_folder

SIZES = {
    "ci": {"patients": 1000, "random_kills": 10},
    "full": {"patients": 5000, "random_kills": 60},
}

# How long after the standby's takeover (its first committed job) the next kill comes at the latest;
# the schedule is `--every 1s`, so this lands kills in pulls, in links and between cycles.
KILL_WINDOW = (0.3, 6.0)
# The longest a failover may take before the harness calls it a finding (the default lease is 30 s).
FAILOVER_LIMIT = 120.0
# What a resumed, superseded holder logs as it stops (StaleLease, LeaseLost in SyncService.swift).
STEPPED_DOWN = ("was refused: the lease changed hands since", "was taken over by another process")
STATUSES_COMMITTED = "('succeeded', 'partial', 'failed')"


def with_schema(url, schema):
    """The store URL with `?schema=NAME` (replacing any schema it names)."""
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "schema"] + [("schema", schema)]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


class PostgresWorkspace(Workspace):
    """A workspace whose `store:` is a schema of a PostgreSQL database, read with psql for the checks."""

    def __init__(self, binary, folder, sandbox, url, schema, lease_ttl=None):
        super().__init__(binary, folder, sandbox)
        self.service_pids = set()
        self.url = url
        self.schema = schema
        self.store = with_schema(url, schema)
        with open(self.config) as handle:
            text = handle.read()
        with open(self.config, "w") as handle:
            handle.write(text.replace("store: store.sqlite\n", "store: %s\n" % self.store, 1))
            if lease_ttl:
                handle.write("lease: { ttl: %s }\n" % lease_ttl)

    def sql(self, query):
        """Rows of one query in the workspace's schema, as lists of text."""
        bare = urllib.parse.urlunsplit(urllib.parse.urlsplit(self.url)._replace(query=""))
        run = subprocess.run(["psql", bare, "-qtAF", "\t", "-v", "ON_ERROR_STOP=1", "-c", "SET search_path TO %s" % self.schema, "-c", query],
                             capture_output=True, text=True, timeout=60)
        if run.returncode != 0:
            raise ProofFailure("psql: %s" % run.stderr.strip())
        return [line.split("\t") for line in run.stdout.splitlines() if line]

    def integrity(self):
        """PostgreSQL keeps no partial transaction after a crash; what can be checked from outside is
        that every table of the store reads whole (a sequential scan of each)."""
        tables = [row[0] for row in self.sql("SELECT tablename FROM pg_tables WHERE schemaname = '%s'" % self.schema)]
        for table in tables:
            self.sql("SELECT count(*) FROM %s" % table)
        return "ok" if tables else "no tables"

    def create_intents(self):
        return ["%s %s|%s" % tuple(row) for row in self.sql("SELECT resourceType, identifierSystem, identifierValue FROM create_intent ORDER BY recordedAt")]

    def drop(self):
        self.sql("DROP SCHEMA IF EXISTS %s CASCADE" % self.schema)


def on_host(name, command):
    """The command in a UTS namespace of its own whose host name is `name` (`unshare --uts`, with a
    user namespace when not root): to the lease, a process of another host, whose death this host
    cannot see, so that the standby waits for the lease to lapse as it would on a second machine."""
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", "--uts"] + user + ["sh", "-c", 'hostname "$0" && exec "$@"', name] + command


class Service:
    """One `stagelink run --standby` process, its output in a file of its own (never a pipe, which
    a long run fills)."""

    def __init__(self, workspace, number, host=None):
        self.number = number
        self.host = host
        self.output = open(os.path.join(workspace.folder, "service-%d.log" % number), "ab")
        environment = dict(os.environ)
        environment.pop("STAGELINK_CRASH_AT", None)
        command = [workspace.binary, "run", "--every", "1s", "--standby", "--config", workspace.config]
        if host:
            command = on_host(host, command)
        self.process = subprocess.Popen(command,
                                        stdout=self.output, stderr=self.output, env=environment, cwd=workspace.folder)
        self.pid = self.process.pid
        workspace.service_pids.add(self.pid)
        self.signalled_at = None

    def signal(self, number):
        self.signalled_at = time.time()
        self.process.send_signal(number)

    def wait(self, timeout):
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
        finally:
            self.output.close()


class FailoverTest(CrashTest):
    def __init__(self, binary, url, size, seed, log, hosts="one", lease_ttl=None, keep=False, freeze=False):
        super().__init__(binary, "ci", seed, log)
        self.freeze = freeze
        self.hosts = hosts
        self.lease_ttl = lease_ttl
        self.started_services = 0
        self.size = dict(SIZES[size])
        self.url = url
        self.keep = keep
        self.failovers = []
        self.services = []
        self.ended = {}
        self.service_pids = set()

    def run(self):
        folder = new_folder("stagelink-failover-")
        schema = "failover_%d_%d" % (os.getpid(), self.seed)
        self.log("failover crash test: two `stagelink run --standby` (%s, lease.ttl %s) on PostgreSQL schema %s, seed %d, %d patients, %d %s of the lease holder, in %s"
                 % ("on two hosts" if self.hosts == "two" else "on one host", self.lease_ttl or "30s", schema, self.seed, self.size["patients"], self.size["random_kills"],
                    "freezes (SIGSTOP, then SIGCONT after the takeover)" if self.freeze else "kills", folder))
        started = time.time()
        sandbox = Sandbox(self.binary, folder, patients=self.size["patients"], bad_share=0.05, seed=self.seed, profile="generic")
        workspace = None
        try:
            workspace = PostgresWorkspace(self.binary, folder, sandbox, self.url, schema, self.lease_ttl)
            sandbox.call("POST", "/_sandbox/mutations/start?intervalMilliseconds=100")
            self.services = [self.service(workspace, 1), self.service(workspace, 2)]
            for number in range(1, self.size["random_kills"] + 1):
                self.kill_holder(workspace, sandbox, number)
            sandbox.call("POST", "/_sandbox/mutations/stop")
            holder = self.holder(workspace)
            for service in self.services:
                service.signal(signal.SIGTERM)
            for service in self.services:
                code = service.wait(timeout=120)
                self.ended[service.pid] = service.signalled_at
                # The holder finishes its batch and exits 0; a standby too, unless the signal came
                # before it had set its handler up (then it dies of it, having written nothing).
                if code != 0 and (service is holder or code != -signal.SIGTERM):
                    self.problems.append("service %d (pid %d) exited %s on SIGTERM; see its log" % (service.number, service.pid, code))
            self.settle(workspace, sandbox)
            problems, checked = verdict.judge(sandbox, workspace)
            self.problems += problems
            self.fencing(workspace)
            statuses = verdict.row_statuses(workspace)
        finally:
            for service in self.services:
                if service.process.poll() is None:
                    service.process.kill()
                    service.wait(timeout=30)
            sandbox.stop()
            if workspace is not None and not self.keep:
                try:
                    workspace.drop()
                except ProofFailure as failure:
                    self.log("could not drop schema %s: %s" % (schema, failure))
        seconds = [f["committed"] for f in self.failovers if f["committed"] is not None]
        self.log("")
        self.log("%d kills of the lease holder, %.0fs; failover (kill → the standby's first committed job): %s; median %s"
                 % (len(self.failovers), time.time() - started, ", ".join("%.2fs" % s for s in seconds),
                    "%.2fs" % statistics.median(seconds) if seconds else "-"))
        self.log("checked %s; current rows: %s" % (", ".join("%d %s" % (n, t) for t, n in sorted(checked.items())), statuses))
        return {"kind": "crash-failover-freeze" if self.freeze else "crash-failover", "store": "postgres", "hosts": self.hosts, "lease_ttl": self.lease_ttl or "30s", "seed": self.seed, "size": self.size, "failovers": self.failovers,
                "failover_median": statistics.median(seconds) if seconds else None, "problems": self.problems,
                "kills": len(self.failovers), "seconds": round(time.time() - started, 1), "checked": dict(checked), "rows": statuses}

    def service(self, workspace, number):
        """A service started afresh. On two hosts each start is a machine of its own: a killed
        holder comes back as a new host, which cannot see its predecessor's death either."""
        self.started_services += 1
        return Service(workspace, number, "stagelink-host-%d" % self.started_services if self.hosts == "two" else None)

    # MARK: - One kill

    def holder(self, workspace):
        """The service process holding a live lease, or None."""
        try:
            rows = workspace.sql("SELECT pid FROM lease WHERE expiresAt > extract(epoch FROM clock_timestamp())")
        except ProofFailure as failure:
            if "does not exist" in str(failure):
                return None  # the services are still making the store's tables
            raise
        pids = {int(row[0]) for row in rows}
        return next((service for service in self.services if service.pid in pids), None)

    def kill_holder(self, workspace, sandbox, number):
        """Waits for a holder, lets it work a seeded random while, SIGKILLs it, starts it again as
        the standby, and measures the other process's takeover."""
        deadline = time.time() + FAILOVER_LIMIT
        holder = None
        while holder is None:
            self.restart_exited(workspace)
            holder = self.holder(workspace)
            if holder is None:
                if time.time() > deadline:
                    raise ProofFailure("no service took the lease within %.0fs; see %s" % (FAILOVER_LIMIT, workspace.folder))
                time.sleep(0.1)
        time.sleep(self.random.uniform(*KILL_WINDOW))
        if holder.process.poll() is not None:
            return self.kill_holder(workspace, sandbox, number)
        running = workspace.sql("SELECT id, kind, direction FROM job WHERE status = 'running' ORDER BY id DESC LIMIT 1")
        doing = "job %s %s %s" % tuple(running[0]) if running else "between cycles"
        if self.freeze:
            return self.freeze_holder(workspace, sandbox, number, holder, doing)
        holder.signal(signal.SIGKILL)
        killed_at = holder.signalled_at
        code = holder.wait(timeout=30)
        self.ended[holder.pid] = killed_at
        if code != -signal.SIGKILL:
            self.problems.append("kill %d: the holder (pid %d) ended with %s, not by its SIGKILL" % (number, holder.pid, code))
        self.services[self.services.index(holder)] = self.service(workspace, holder.number)
        taken, committed = self.takeover(workspace, holder.pid, killed_at)
        duplicates = verdict.duplicates(sandbox)
        for line in duplicates:
            self.problems.append("after kill %d: %s" % (number, line))
        self.failovers.append({"kill": number, "killed_pid": holder.pid, "doing": doing, "taken": taken, "committed": committed,
                               "duplicates": len(duplicates)})
        self.log("%3d killed pid %-7d %-34s lease taken after %s, first committed job after %s | %d duplicates"
                 % (number, holder.pid, doing[:34], "%.2fs" % taken if taken is not None else "-", "%.2fs" % committed if committed is not None else "-",
                    len(duplicates)))

    def freeze_holder(self, workspace, sandbox, number, holder, doing):
        """SIGSTOPs the holder, waits for the standby's takeover, SIGCONTs it, and checks that the
        fencing stops it: it exits by itself, naming the lost lease, and nothing is duplicated."""
        holder.signal(signal.SIGSTOP)
        frozen_at = holder.signalled_at
        # From here the frozen process does nothing: what it does after SIGCONT must be refused.
        self.ended[holder.pid] = frozen_at
        taken, committed = self.takeover(workspace, holder.pid, frozen_at)
        holder.process.send_signal(signal.SIGCONT)
        resumed_at = time.time()
        try:
            code = holder.process.wait(timeout=FAILOVER_LIMIT)
        except subprocess.TimeoutExpired:
            code = None
        stopped = time.time() - resumed_at
        holder.wait(timeout=30)
        with open(holder.output.name, "rb") as handle:
            tail = handle.read()[-2000:].decode("utf-8", "replace")
        line = next((l for l in reversed(tail.splitlines()) if any(marker in l for marker in STEPPED_DOWN)), None)
        if code is None:
            self.problems.append("freeze %d: the resumed holder (pid %d) did not stop within %.0fs of SIGCONT" % (number, holder.pid, FAILOVER_LIMIT))
        elif line is None:
            self.problems.append("freeze %d: the resumed holder (pid %d) exited %s without saying it lost the lease: %s" % (number, holder.pid, code, tail[-300:]))
        grants = workspace.sql("SELECT count(*) FROM lease_grant WHERE pid = %d AND at > %f" % (holder.pid, frozen_at))
        if grants and int(grants[0][0]) > 0:
            self.problems.append("freeze %d: the resumed holder (pid %d) was granted the lease again" % (number, holder.pid))
        self.services[self.services.index(holder)] = self.service(workspace, holder.number)
        duplicates = verdict.duplicates(sandbox)
        for duplicate in duplicates:
            self.problems.append("after freeze %d: %s" % (number, duplicate))
        self.failovers.append({"kill": number, "killed_pid": holder.pid, "doing": doing, "taken": taken, "committed": committed,
                               "duplicates": len(duplicates), "resumed_exit": code, "stopped_after": round(stopped, 2), "said": line})
        self.log("%3d froze pid %-7d %-34s lease taken after %s, first committed job after %s; resumed, it stopped after %.2fs (exit %s): %s | %d duplicates"
                 % (number, holder.pid, doing[:34], "%.2fs" % taken if taken is not None else "-", "%.2fs" % committed if committed is not None else "-",
                    stopped, code, (line or "no line about the lease").strip()[-110:], len(duplicates)))

    def takeover(self, workspace, killed_pid, killed_at):
        """Seconds from the kill to the lease's next grant to another process, and to the first job
        committed after the kill."""
        taken = committed = None
        deadline = killed_at + FAILOVER_LIMIT
        while committed is None and time.time() < deadline:
            self.restart_exited(workspace)
            if taken is None:
                grant = workspace.sql("SELECT min(at) FROM lease_grant WHERE pid <> %d AND at > %f" % (killed_pid, killed_at))
                taken = float(grant[0][0]) - killed_at if grant and grant[0][0] else None
            job = workspace.sql("SELECT min(finishedAt) FROM job WHERE finishedAt > %f AND status IN %s" % (killed_at, STATUSES_COMMITTED))
            committed = float(job[0][0]) - killed_at if job and job[0][0] else None
            if committed is None:
                time.sleep(0.05)
        if taken is None:
            grant = workspace.sql("SELECT min(at) FROM lease_grant WHERE pid <> %d AND at > %f" % (killed_pid, killed_at))
            taken = float(grant[0][0]) - killed_at if grant and grant[0][0] else None
        if committed is None:
            self.problems.append("no job was committed within %.0fs of killing pid %d" % (FAILOVER_LIMIT, killed_pid))
        return taken, committed

    def restart_exited(self, workspace):
        """A service that ended by itself is a finding (a standby waits; a holder runs until stopped): it is started again."""
        for index, service in enumerate(self.services):
            if service.process.poll() is not None:
                self.ended[service.pid] = time.time()
                with open(service.output.name, "rb") as handle:
                    tail = handle.read()[-300:].decode("utf-8", "replace")
                self.problems.append("service %d (pid %d) exited by itself with %s: %s" % (service.number, service.pid, service.process.returncode, tail))
                service.wait(timeout=5)
                self.services[index] = self.service(workspace, service.number)

    # MARK: - Verdicts

    def fencing(self, workspace):
        """Every grant of the lease to another process came after the previous holder was killed or
        stopped: never two holders at once, so no cycle of a stale holder overlapped its successor's."""
        grants = [(int(epoch), int(pid), float(at)) for epoch, pid, at in workspace.sql("SELECT epoch, pid, at FROM lease_grant ORDER BY epoch")]
        self.service_pids = workspace.service_pids
        handovers = 0
        for (_, before, _), (epoch, after, at) in zip(grants, grants[1:]):
            if before == after or before not in self.service_pids:
                continue  # a renewal by its holder, or the settling syncs after both services stopped
            handovers += 1
            ended = self.ended.get(before)
            if ended is None or at < ended:
                self.problems.append("fencing: epoch %d was granted to pid %d at %.3f while pid %d still held the lease (ended %s)"
                                     % (epoch, after, at, before, "%.3f" % ended if ended else "never"))
        self.log("fencing: %d grants of the lease, %d handovers, each after its previous holder was killed or stopped" % (len(grants), handovers))

    def max_job(self, workspace):
        rows = workspace.sql("SELECT COALESCE(MAX(id), 0) FROM job")
        return int(rows[0][0])

    def claims_lapse_in(self, workspace):
        rows = workspace.sql("SELECT MAX(claimedUntil) FROM staged_row WHERE claimedUntil IS NOT NULL")
        latest = float(rows[0][0]) if rows and rows[0][0] else 0
        return max(0.0, latest - time.time())
