"""The fault soak: the real service runs N cycles while 10% of the calls to every endpoint group
fail, spread over every fault kind the sandbox has for that group; then the faults stop, one
clean cycle runs, and the sync must have converged: nothing lost, nothing duplicated, every bad
record failed naming its field, every deletion and merge people made reached the other side. The store is encrypted, and its key is replaced (`stagelink store
rekey`) under the running service. The service logs at trace level throughout, and the security
checks (security.py) read what it wrote and grep the store's files for patient values. Then the health probes (health.py) run against the store.
"""
import json
import os
import sqlite3
import time
import urllib.error

import health
import security
import verdict
from harness import ProofFailure, Sandbox, Workspace, new_folder

FAILING_SHARE = 0.10
# The share of the mutation driver's edits that delete or merge a record: the verdict expects each to
# reach the other side by its rule, under the faults, and nothing written to a removed record after it.
DELETION_SHARE = 0.05
SIZES = {
    "ci": {"patients": 600, "cycles": 30},
    "full": {"patients": 3000, "cycles": 300},
}


def sandbox_choices(sandbox, body):
    """The sandbox's own list of valid values, read from the error it gives for an invalid one."""
    try:
        sandbox.call("POST", "/_sandbox/faults", body)
    except urllib.error.HTTPError as error:
        message = json.loads(error.read())["error"]
        return [name.strip() for name in message.split(" is one of ", 1)[1].split(",")]
    raise ProofFailure("the sandbox accepted an invalid fault %s" % body)


def fault_plan(sandbox):
    """Every (endpoint group, kind) the sandbox accepts, with a rate per rule such that 10% of
    each group's calls fail."""
    endpoints = sandbox_choices(sandbox, {"endpoint": "none", "kind": "500", "rate": 0})
    kinds = sandbox_choices(sandbox, {"endpoint": endpoints[0], "kind": "none", "rate": 0})
    applicable = {}
    for endpoint in endpoints:
        for kind in kinds:
            try:
                sandbox.call("POST", "/_sandbox/faults", {"endpoint": endpoint, "kind": kind, "rate": 0})
                applicable.setdefault(endpoint, []).append(kind)
            except urllib.error.HTTPError:
                pass
    sandbox.call("DELETE", "/_sandbox/faults")
    plan = []
    for endpoint, group in applicable.items():
        # The first rule that fires decides a call: n rules at rate r fail 1-(1-r)^n of the calls.
        rate = 1 - (1 - FAILING_SHARE) ** (1 / len(group))
        for kind in group:
            plan.append({"endpoint": endpoint, "kind": kind, "rate": round(rate, 5), "delayMilliseconds": 2500})
    return plan, kinds


def failed_attempts(workspace):
    """How many link attempts failed, per error code: the faults that reached the linkers."""
    connection = sqlite3.connect(workspace.store, timeout=30)
    try:
        return connection.execute(
            "SELECT errorCode, COUNT(*) FROM link_attempt WHERE outcome = 'failed' GROUP BY errorCode ORDER BY 2 DESC").fetchall()
    finally:
        connection.close()


class Soak:
    def __init__(self, binary, size, seed, log):
        self.binary = binary
        self.size = dict(SIZES[size])
        self.seed = seed
        self.log = log
        self.problems = []

    def run(self):
        folder = new_folder("stagelink-soak-")
        started = time.time()
        cycles = self.size["cycles"]
        self.log("fault soak: seed %d, %d patients, %d cycles at %d%% failing calls, in %s"
                 % (self.seed, self.size["patients"], cycles, FAILING_SHARE * 100, folder))
        sandbox = Sandbox(self.binary, folder, patients=self.size["patients"], bad_share=0.05, seed=self.seed, deletion_share=DELETION_SHARE)
        try:
            workspace = Workspace(self.binary, folder, sandbox, log_level="trace", request_timeout="2s", encrypted=True)
            security.plant_escape_probe(sandbox)
            plan, kinds = fault_plan(sandbox)
            for rule in plan:
                sandbox.call("POST", "/_sandbox/faults", rule)
            self.log("%d fault rules: %d kinds over %d endpoint groups (%s)" % (
                len(plan), len({rule["kind"] for rule in plan}), len({rule["endpoint"] for rule in plan}),
                ", ".join(sorted({rule["kind"] for rule in plan}))))
            missing = set(kinds) - {rule["kind"] for rule in plan}
            if missing:
                self.problems.append("fault kinds with no endpoint group: %s" % ", ".join(sorted(missing)))
            # People edit both sides twice a second; each edit of a Contact is an EMR read and update.
            sandbox.call("POST", "/_sandbox/mutations/start?intervalMilliseconds=500")

            soak_started = time.time()
            process, started_at = workspace.start("run", "--every", "1s", "--cycles", str(cycles))
            # The store's key is replaced under the running service, a third of the way in: the
            # service goes on with the data key it holds; every later command opens with the new key.
            time.sleep(min(20, cycles))
            rekey = workspace.run("store", "rekey", "--operator", "proof")
            if rekey.returncode != 0:
                self.problems.append("stagelink store rekey under the running service failed (%s): %s" % (rekey.returncode, rekey.stderr[-500:]))
            self.log("rekey under the running service: %s" % (rekey.stdout.strip().splitlines() or [rekey.stderr.strip()])[0])
            run = workspace.finish(process, started_at, ["run"], timeout=cycles * 90)
            soak_seconds = time.time() - soak_started
            if run.killed_by_us or run.returncode != 0:
                self.problems.append("the service did not finish its %d cycles cleanly: exit %s%s: %s"
                                     % (cycles, run.returncode, " (timed out)" if run.killed_by_us else "", run.stderr[-500:]))
            counts = sandbox.call("GET", "/_sandbox/counts")
            calls = sum(counts["calls"].values())
            faults = sum(counts["faults"].values())
            self.log("soak: %d cycles in %.0fs, %d calls, %d failed on purpose (%.1f%%)"
                     % (cycles, soak_seconds, calls, faults, 100.0 * faults / max(calls, 1)))

            sandbox.call("DELETE", "/_sandbox/faults")
            sandbox.call("POST", "/_sandbox/mutations/stop")
            attempts = failed_attempts(workspace)
            self.log("link attempts failed during the soak, by error code: %s" % (", ".join("%s %d" % pair for pair in attempts) or "none"))
            clean = workspace.run("sync", timeout=600)
            self.log("clean cycle: exit %s in %.1fs" % (clean.returncode, clean.seconds))
            problems, checked = verdict.judge(sandbox, workspace)
            self.problems += ["not converged after one clean cycle: " + line for line in problems]
            statuses = verdict.row_statuses(workspace)
            self.log("checked %s; current rows: %s" % (", ".join("%d %s" % (n, t) for t, n in sorted(checked.items())), statuses))

            with open(workspace.log_path, encoding="utf-8") as handle:
                log_text = handle.read()
            phi = security.phi_needles(sandbox)
            secrets = security.secret_needles(sandbox, sandbox.credentials)
            findings = security.scan_logs(log_text, phi, secrets)
            self.problems += findings
            self.log("logs: %d lines, %d KB, searched for %d patient values, %d secrets: %d findings"
                     % (log_text.count("\n"), len(log_text) // 1024, len(phi), len(secrets), len(findings)))
            mode_problems, modes = security.check_store_modes(workspace)
            self.problems += mode_problems
            self.log("store modes: %s" % modes)
            sealed = security.check_store_sealed(workspace, phi)
            self.problems += sealed
            self.log("encrypted store files searched for %d patient values: %d findings" % (len(phi), len(sealed)))
            escaping = security.check_escaping(workspace)
            self.problems += escaping
            self.log("show/rows escape control characters: %s" % ("yes" if not escaping else "NO"))
            probes, tried = security.check_configuration_probes(workspace.binary)
            self.problems += probes
            self.log("bad configurations and mappings refused with file:line and key: %d of %d" % (tried - len(probes), tried))
            console = security.check_console_escaping(workspace)
            self.problems += console
            self.log("the console shows them as text: %s" % ("yes" if not console else "NO"))
            health_problems = health.check_health(workspace, sandbox, self.log)
            self.problems += health_problems
            self.log("health tells the truth (failing pull, push by hand, retry, newer and read-only stores): %s"
                     % ("yes" if not health_problems else "NO"))
        finally:
            sandbox.stop()
        return {"kind": "soak", "seed": self.seed, "size": self.size, "problems": self.problems, "calls": calls, "faults": faults,
                "fault_rules": plan, "failed_attempts": dict(attempts), "soak_seconds": round(soak_seconds, 1), "seconds": round(time.time() - started, 1),
                "checked": dict(checked), "rows": statuses, "log_lines": log_text.count("\n")}
