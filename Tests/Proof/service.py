#!/usr/bin/env python3
"""The service as installed: `scripts/install.sh` into a staging root, then the unit's own ExecStart
command line run against a standalone sandbox, watched only through what operations see.

    python3 Tests/Proof/service.py [--binary PATH]

Checks, each a failure when it does not hold:
- install.sh lays out the binary, a starter configuration, the store folder (0700) and
  stagelink.service with a dedicated user, ProtectSystem=strict, NoNewPrivileges, the store folder
  writable, Restart=on-failure and SIGTERM; `systemd-analyze verify` accepts it (skipped, said so,
  where systemd-analyze is missing);
- the unit's command line serves /healthz, /readyz (ready after the first cycle), /status (the JSON
  of `stagelink status --json`) and /metrics, which prometheus_client's parser reads and whose
  values equal the store's;
- an alert rule fires and reaches the sandbox's webhook receiver, kept with its delivery;
- logging.format json: every log line is one JSON object;
- SIGTERM stops it cleanly: exit 0, lease released, "service stopped" recorded.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import REPOSITORY, Sandbox, Workspace  # noqa: E402

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

problems = []
passed = []


def check(condition, message):
    print(("  ✓ " if condition else "  ✗ ") + message)
    (passed if condition else problems).append(message)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return None, ""


def install(binary, root):
    print("install.sh into a staging root")
    run = subprocess.run(["bash", os.path.join(REPOSITORY, "scripts", "install.sh"), "--root", root, "--binary", binary],
                         capture_output=True, text=True, timeout=300)
    print("    " + run.stdout.strip().replace("\n", "\n    "))
    check(run.returncode == 0, "install.sh exits 0 (%s)" % run.stderr.strip()[-500:])
    unit_path = os.path.join(root, "etc/systemd/system/stagelink.service")
    unit = open(unit_path).read()
    for line in ["User=stagelink", "ProtectSystem=strict", "NoNewPrivileges=yes", "ReadWritePaths=/var/lib/stagelink",
                 "Restart=on-failure", "KillSignal=SIGTERM"]:
        check(re.search("^%s$" % re.escape(line), unit, re.M) is not None, "the unit has %s" % line)
    check(os.access(os.path.join(root, "usr/local/bin/stagelink"), os.X_OK), "the binary is installed")
    check(oct(os.stat(os.path.join(root, "var/lib/stagelink")).st_mode & 0o777) == "0o700", "the store folder is 0700")
    config = open(os.path.join(root, "etc/stagelink/stagelink.yaml")).read()
    check("store: /var/lib/stagelink/stagelink.sqlite" in config, "the starter configuration keeps its store in the store folder")
    if shutil.which("systemd-analyze"):
        check("systemd-analyze verify: stagelink.service is valid" in run.stdout, "systemd-analyze verify accepts the unit")
    else:
        print("  - systemd-analyze is not installed: the unit's verification is skipped")
    return re.search(r"^ExecStart=(.+)$", unit, re.M).group(1).split()


def metric_values(text):
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", help="the stagelink binary (default: the release build)")
    arguments = parser.parse_args()
    binary = os.path.abspath(arguments.binary) if arguments.binary else os.path.join(subprocess.run(
        ["swift", "build", "-c", "release", "--show-bin-path"], cwd=REPOSITORY, capture_output=True, text=True, check=True).stdout.strip(), "stagelink")
    folder = tempfile.mkdtemp(prefix="stagelink-service-")
    root = os.path.join(folder, "root")
    command = install(binary, root)

    sandbox = Sandbox(binary, folder, patients=40, bad_share=0.1, seed=5)
    service = None
    try:
        os.makedirs(os.path.join(folder, "work"))
        workspace = Workspace(binary, os.path.join(folder, "work"), sandbox)
        port = free_port()
        webhook = sandbox.salesforce_url + "/_sandbox/webhooks/generic/ops"
        config = open(workspace.config).read().replace("schedule: { every: 1s, overlap: 30s }", "schedule: { every: 1h, overlap: 30s }")
        config = config.replace("logging: { level: info }", "logging: { level: info, format: json }")
        config += "service: { listen: 127.0.0.1:%d }\nalerts:\n  rules: { failedRows: { above: 0 } }\n  webhooks:\n    - { name: ops, url: \"%s\" }\n" % (port, webhook)
        open(workspace.config, "w").write(config)

        # The unit's ExecStart, its paths mapped into the staging root and the workspace.
        argv = [os.path.join(root, command[0].lstrip("/"))] + [workspace.config if word.endswith("stagelink.yaml") else word for word in command[1:]]
        print("the unit's command line: %s" % " ".join(argv))
        stderr_path = os.path.join(folder, "service.err")
        service = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(stderr_path, "wb"), cwd=workspace.folder)
        base = "http://127.0.0.1:%d" % port
        deadline = time.time() + 180
        while time.time() < deadline and get(base + "/healthz")[0] != 200:
            time.sleep(0.2)
        check(get(base + "/healthz") == (200, "ok\n"), "/healthz answers 200 while the process is up")
        ready = None
        while time.time() < deadline:
            ready = get(base + "/readyz")
            if ready[0] == 200:
                break
            time.sleep(0.5)
        check(ready is not None and ready[0] == 200, "/readyz is 200 once the first cycle finished (%s)" % (ready,))

        status, body = get(base + "/status")
        cli = workspace.run("status", "--json")
        check(status in (200, 503) and json.loads(body)["level"] == json.loads(cli.stdout)["level"], "/status is the JSON of `stagelink status --json`")

        # Give the alert check after the cycle a moment, then read everything at one quiet moment (the next cycle is an hour away).
        time.sleep(2)
        status, text = get(base + "/metrics")
        check(status == 200, "/metrics answers 200")
        values = metric_values(text)
        store = sqlite3.connect(workspace.store, timeout=30)
        rows = store.execute("SELECT system, resourceType, status, COUNT(*) FROM staged_row GROUP BY 1, 2, 3").fetchall()
        check(len(rows) > 0 and all(values.get(("stagelink_rows", (("resource", t), ("status", st), ("system", sy)))) == n for sy, t, st, n in rows),
              "stagelink_rows equals the store's rows by system, type and status (%d label sets)" % len(rows))
        failed = store.execute("SELECT errorCode, COUNT(*) FROM staged_row WHERE status = 'failed' GROUP BY 1").fetchall()
        check(len(failed) > 0 and all(values.get(("stagelink_failed_rows", (("code", code),))) == n for code, n in failed),
              "stagelink_failed_rows equals the store's failed rows by code")
        for direction in ["inbound", "outbound"]:
            pulled, linked, calls = store.execute(
                "SELECT COALESCE(SUM(pulled),0), COALESCE(SUM(linked),0), COALESCE(SUM(apiCalls),0) FROM job WHERE status != 'running' AND direction = ?",
                (direction,)).fetchone()
            key = (("direction", direction),)
            check(values.get(("stagelink_records_pulled_total", key)) == pulled, "records pulled (%s) = %d, the store's sum" % (direction, pulled))
            check(values.get(("stagelink_records_linked_total", key)) == linked, "records linked (%s) = %d, the store's sum" % (direction, linked))
            check(values.get(("stagelink_api_calls_total", key)) == calls, "API calls (%s) = %d, the store's sum" % (direction, calls))
        jobs = store.execute("SELECT COUNT(*) FROM job WHERE status != 'running'").fetchone()[0]
        counted = sum(v for (name, _), v in values.items() if name == "stagelink_job_duration_seconds_count")
        check(counted == jobs, "the job duration histogram counts every finished job (%d)" % jobs)
        holder = store.execute("SELECT holderName, pid FROM lease").fetchone()
        check(holder is not None and values.get(("stagelink_lease_held", (("holder", holder[0]), ("host", socket.gethostname()), ("pid", str(holder[1]))))) == 1,
              "stagelink_lease_held names the lease holder")

        deliveries = sandbox.call("GET", "/_sandbox/webhooks/generic/ops")
        check(any(d["body"].get("alert", {}).get("rule") == "failedRows" for d in deliveries), "the failedRows alert reached the sandbox's webhook receiver")
        alerts = workspace.json("alerts")
        check(any(a["rule"] == "failedRows" and a["status"] == "firing" and any(d["delivered"] for d in a["deliveries"]) for a in alerts),
              "`stagelink alerts` lists it firing, with its delivery")

        started = time.time()
        service.send_signal(signal.SIGTERM)
        try:
            code = service.wait(timeout=90)
        except subprocess.TimeoutExpired:
            service.kill()
            code = "killed after 90s"
        check(code == 0, "SIGTERM stops it cleanly: exit %s in %.1fs" % (code, time.time() - started))
        check(store.execute("SELECT COUNT(*) FROM lease").fetchone()[0] == 0, "the lease is released")
        check(store.execute("SELECT COUNT(*) FROM event WHERE message = 'service stopped'").fetchone()[0] == 1, "'service stopped' is recorded")
        store.close()
        lines = [line for line in open(stderr_path, encoding="utf-8").read().splitlines() if line.strip()]
        parsed = 0
        for line in lines:
            try:
                parsed += isinstance(json.loads(line), dict)
            except ValueError:
                pass
        check(len(lines) > 0 and parsed == len(lines), "logging.format json: %d of %d log lines are JSON objects" % (parsed, len(lines)))
    finally:
        if service is not None and service.poll() is None:
            service.kill()
        sandbox.stop()
    print("\n%d passed, %d failed" % (len(passed), len(problems)))
    if problems:
        print("Problems:\n  " + "\n  ".join(problems))
        sys.exit(1)
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
