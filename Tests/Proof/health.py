"""Health probes over what a soak left behind, against the real binary (issue 13):

- with every `fhir.search` failing, two cycles of the service leave `status --json` exiting 2
  (failing), printing JSON that says the inbound pull is failing;
- after the faults stop and a cycle pulls again, status is no longer failing; a push by hand of an
  unknown id then exits non-zero and leaves status as it was, the failure reported apart;
- `retry` of an unknown row id exits non-zero naming the id;
- a copy of the store marked as written by a newer Stagelink (`user_version` 99) is refused by
  `status --json` with exit 4 and JSON naming both versions, and its bytes stay as they were;
- the same copy back at this build's version, made read-only (0400), is read by `status`.
"""
import json
import os
import shutil
import sqlite3

UNKNOWN_CONTACT = "003000000000000AAA"
UNKNOWN_ROW = "987654321"


def status(workspace, *extra):
    """(exit code, parsed JSON or None, the raw output) of `status --json`."""
    run = workspace.run("status", "--json", *extra, timeout=120)
    try:
        return run.returncode, json.loads(run.stdout), run.stdout
    except ValueError:
        return run.returncode, None, run.stdout + run.stderr


def check_health(workspace, sandbox, log):
    problems = []
    sandbox.call("DELETE", "/_sandbox/faults")
    sandbox.call("POST", "/_sandbox/faults", {"endpoint": "fhir.search", "kind": "503", "rate": 1.0})
    run = workspace.run("run", "--every", "1s", "--cycles", "2", timeout=600)
    code, body, raw = status(workspace)
    log("every fhir.search failing, 2 cycles (run exit %s): status exit %s, level %s"
        % (run.returncode, code, body and body.get("level")))
    if body is None:
        problems.append("`status --json` did not print JSON: %r" % raw[-300:])
    elif code != 2 or body.get("level") != "failing" or body.get("inbound", {}).get("pull", {}).get("level") != "failing":
        problems.append("with every fhir.search failing, status said %s (exit %s), not failing (exit 2)" % (body.get("level"), code))

    sandbox.call("DELETE", "/_sandbox/faults")
    workspace.run("sync", timeout=600)
    healed, body, raw = status(workspace)
    push = workspace.run("push", UNKNOWN_CONTACT, timeout=120)
    after, after_body, _ = status(workspace)
    manual = (after_body or {}).get("manual", {}).get("unresolvedFailure")
    log("after a clean cycle: status exit %s; push of an unknown id: exit %s; then status exit %s, manual failure %s"
        % (healed, push.returncode, after, manual and manual.get("id")))
    if healed == 2:
        problems.append("a pull succeeded after the faults stopped, yet status still exits 2: %s" % (body or {}).get("reasons"))
    if push.returncode == 0:
        problems.append("`push %s` (an unknown id) exited 0" % UNKNOWN_CONTACT)
    if after != healed:
        problems.append("a push by hand of an unknown id changed status from exit %s to %s" % (healed, after))
    if not manual:
        problems.append("the failed push by hand is not reported apart in `status --json` (manual.unresolvedFailure)")

    retry = workspace.run("retry", UNKNOWN_ROW, timeout=120)
    log("retry of an unknown row id: exit %s" % retry.returncode)
    if retry.returncode == 0 or UNKNOWN_ROW not in retry.stderr + retry.stdout:
        problems.append("`retry %s` exited %s without naming the id" % (UNKNOWN_ROW, retry.returncode))

    problems += check_newer_and_read_only_store(workspace, log)
    return problems


def check_newer_and_read_only_store(workspace, log):
    problems = []
    copy = os.path.join(workspace.folder, "newer-copy.sqlite")
    connection = sqlite3.connect(workspace.store, timeout=30)
    try:
        connection.execute("VACUUM INTO ?", (copy,))
    finally:
        connection.close()
    connection = sqlite3.connect(copy)
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    connection.execute("PRAGMA user_version = 99")
    connection.commit()
    connection.close()
    with open(copy, "rb") as handle:
        before = handle.read()
    code, body, raw = status(workspace, "--store", copy)
    with open(copy, "rb") as handle:
        after = handle.read()
    error = (body or {}).get("error", "")
    log("a store of a newer Stagelink: status exit %s: %s" % (code, error[:160]))
    if code != 4 or body is None or "99" not in error or str(version) not in error:
        problems.append("a store at version 99 was not refused with exit 4 naming both versions: exit %s, %r" % (code, raw[-300:]))
    if before != after:
        problems.append("the refused newer store was written to")

    connection = sqlite3.connect(copy)
    connection.execute("PRAGMA user_version = %d" % version)
    connection.commit()
    connection.close()
    read_only = os.path.join(workspace.folder, "read-only-copy.sqlite")
    shutil.copyfile(copy, read_only)
    os.chmod(read_only, 0o400)
    code, body, raw = status(workspace, "--store", read_only)
    log("a read-only (0400) store: status exit %s, level %s" % (code, body and body.get("level")))
    if body is None or code > 2:
        problems.append("`status` could not read a read-only store: exit %s, %r" % (code, raw[-300:]))
    return problems
