"""What the proofs share: the real `stagelink sandbox` as a separate process, a workspace with a
`stagelink.yaml` pointing at it (as a deployment has), and the real `stagelink` binary run against
that workspace, each run bounded in time.
"""
import json
import os
import re
import signal
import sqlite3
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAPPING = os.path.join(REPOSITORY, "config", "mapping.yaml")


# Commands whose whole output counts as logs: the service and the actions people take.
WORKING_COMMANDS = {"run", "sync", "retry", "push", "ignore", "unignore", "resolve"}


class ProofFailure(Exception):
    """The harness itself could not do what it needed (not a finding about the product)."""


class Sandbox:
    """`stagelink sandbox` on free loopback ports, with its inspection API at /_sandbox/."""

    def __init__(self, binary, folder, patients, bad_share, seed, profile="generic", deletion_share=0.0):
        self.folder = folder
        self.profile = profile
        self.log_path = os.path.join(folder, "sandbox.log")
        self.credentials = os.path.join(folder, "keys")
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [binary, "sandbox", "--patients", str(patients), "--bad-share", str(bad_share), "--seed", str(seed),
             "--credentials-dir", self.credentials, "--mapping", MAPPING, "--emr-profile", profile,
             "--deletion-share", str(deletion_share)],
            stdout=subprocess.PIPE, stderr=self.log, cwd=REPOSITORY)
        self.banner = self._read_banner()

    def _read_banner(self):
        lines = []
        deadline = time.time() + 120
        while time.time() < deadline:
            line = self.process.stdout.readline().decode("utf-8", "replace")
            if not line:
                raise ProofFailure("the sandbox exited before it was ready; see %s" % self.log_path)
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        text = "".join(lines)

        def find(pattern):
            match = re.search(pattern, text)
            if not match:
                raise ProofFailure("the sandbox banner has no %r:\n%s" % (pattern, text))
            return match.group(1)

        self.salesforce_url = find(r"Salesforce\s+(http://\S+)")
        self.fhir_url = find(r"FHIR\s+(http://\S+)")
        self.fhir_origin_alias = self.fhir_url.replace("://127.0.0.1", "://localhost")
        return {
            "username": find(r"username\s+(\S+)"),
            "consumer_key": find(r"consumer key\s+(\S+)"),
            "salesforce_key": find(r"private key\s+(\S+)\s+\(RS256"),
            "fhir_client": find(r"client id\s+(\S+)"),
            "fhir_key": find(r"private key\s+(\S+)\s+\((\w+) client assertion"),
            "fhir_algorithm": find(r"\((\w+) client assertion"),
        }

    def call(self, method, path, body=None, raw=None):
        """A call to /_sandbox/…; JSON in and out (raw bytes when `raw` is given)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.salesforce_url + path, data=data, method=method)
        if body is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def truth(self):
        return self.call("GET", "/_sandbox/truth")

    def salesforce_records(self, sobject):
        return self.call("GET", "/_sandbox/records/salesforce/" + sobject)

    def fhir_resources(self, resource_type):
        return self.call("GET", "/_sandbox/records/fhir/" + resource_type)

    def removals(self):
        """Every record deleted or merged away at its source, oldest first."""
        return self.call("GET", "/_sandbox/removals")

    def history(self, system, resource_type, record_id):
        """The writes made to one record, oldest first (`endpoint` is null for a person's or the seed's)."""
        return self.call("GET", "/_sandbox/history/%s/%s/%s" % (system, resource_type, urllib.parse.quote(record_id, safe="")))

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class Run:
    """One finished run of the binary: how it ended and what it printed."""

    def __init__(self, args, returncode, stdout, stderr, seconds, killed_by_us):
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds
        self.killed_by_us = killed_by_us

    @property
    def died_of_sigkill(self):
        return self.returncode == -signal.SIGKILL


# The `emr:` keys each EHR profile needs (docs/emr-profiles.md).
PROFILE_SETTINGS = {
    "certified": "  pull: bulk\n  bulk: { group: all-patients, maxWait: 10m }\n",
    "lenient": "  allowedOrigins: [\"%(alias)s\"]\n",
}


class Workspace:
    """A folder with a `stagelink.yaml` pointing at the sandbox, and the binary run against it.

    Every line any run prints (stdout and stderr) is kept in `log_path`, for the log checks.
    """

    def __init__(self, binary, folder, sandbox, log_level="info", request_timeout="5s", encrypted=False, bulk_threshold=None):
        self.binary = binary
        self.folder = folder
        self.store = os.path.join(folder, "store.sqlite")
        self.config = os.path.join(folder, "stagelink.yaml")
        self.log_path = os.path.join(folder, "stagelink-output.log")
        banner = sandbox.banner
        with open(self.config, "w") as handle:
            handle.write("""# Written by Tests/Proof: a deployment's configuration, pointing at the standalone sandbox.
store: store.sqlite
mapping: %(mapping)s
schedule: { every: 1s, overlap: 30s }
logging: { level: %(level)s }
salesforce:
  loginURL: %(salesforce)s
  auth: { flow: jwt-bearer, consumerKey: %(consumer_key)s, username: %(username)s, privateKeyFile: %(salesforce_key)s }
  http: { idleTimeout: 2s, requestTimeout: %(timeout)s }
%(bulk)semr:
  baseURL: %(fhir)s
  clientID: %(fhir_client)s
  privateKeyFile: %(fhir_key)s
  algorithm: %(fhir_algorithm)s
  http: { idleTimeout: 2s, requestTimeout: %(timeout)s }
""" % dict(banner, mapping=MAPPING, level=log_level, salesforce=sandbox.salesforce_url, fhir=sandbox.fhir_url, timeout=request_timeout,
                              bulk="  bulkThreshold: %d\n" % bulk_threshold if bulk_threshold is not None else "")
                         + PROFILE_SETTINGS.get(sandbox.profile, "") % dict(alias=sandbox.fhir_origin_alias))
        # Encryption at rest: a key made by `stagelink store keygen`, named in the configuration.
        self.key_file = os.path.join(folder, "store.key") if encrypted else None
        if encrypted:
            subprocess.run([binary, "store", "keygen", self.key_file], check=True, capture_output=True)
            with open(self.config, "a") as handle:
                handle.write("encryption: { keyFile: store.key }\n")

    def start(self, *args, env=None):
        """Starts `stagelink ARGS --config …`; returns (process, started-at)."""
        environment = dict(os.environ)
        environment.pop("STAGELINK_CRASH_AT", None)
        environment.update(env or {})
        command = [self.binary] + list(args) + ["--config", self.config]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment, cwd=self.folder)
        return process, time.time()

    def finish(self, process, started, args, timeout, kill_after=None):
        """Waits for the process; SIGKILLs it after `kill_after` seconds if it still runs, and
        after `timeout` in any case (a hung run is a finding, reported as such)."""
        killed = False
        try:
            stdout, stderr = process.communicate(timeout=kill_after if kill_after is not None else timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            killed = True
            stdout, stderr = process.communicate(timeout=30)
        run = Run(args, process.returncode, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"),
                  time.time() - started, killed)
        # What the commands log (stderr) and what the working commands print; the listings that
        # show records to an operator (rows, show, …) print patient data by design and are left out.
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write("### stagelink %s (exit %s)\n" % (" ".join(args), run.returncode))
            if args and args[0] in WORKING_COMMANDS:
                log.write(run.stdout)
            log.write(run.stderr)
        return run

    def run(self, *args, timeout=300, env=None, kill_after=None):
        process, started = self.start(*args, env=env)
        return self.finish(process, started, args, timeout, kill_after)

    def json(self, *args, timeout=120):
        run = self.run(*args, "--json", timeout=timeout)
        if run.returncode != 0:
            raise ProofFailure("stagelink %s failed (%s): %s" % (" ".join(args), run.returncode, run.stderr[-2000:]))
        return json.loads(run.stdout)

    def integrity(self):
        """SQLite's own check of the store file, opened as a separate reader."""
        connection = sqlite3.connect(self.store, timeout=30)
        try:
            return "\n".join(row[0] for row in connection.execute("PRAGMA integrity_check"))
        finally:
            connection.close()

    def create_intents(self):
        """The creates whose outcome the store does not know yet (search-then-create), as `Type identifier`."""
        connection = sqlite3.connect(self.store, timeout=30)
        try:
            return ["%s %s|%s" % row for row in connection.execute(
                "SELECT resourceType, identifierSystem, identifierValue FROM create_intent ORDER BY recordedAt")]
        finally:
            connection.close()

    def store_modes(self):
        """The permission bits of the store and its WAL files, as octal text."""
        modes = {}
        for suffix in ["", "-wal", "-shm"]:
            path = self.store + suffix
            if os.path.exists(path):
                modes[os.path.basename(path)] = oct(os.stat(path).st_mode & 0o777)
        return modes


def new_folder(prefix):
    folder = tempfile.mkdtemp(prefix=prefix)
    os.chmod(folder, 0o700)
    return folder
