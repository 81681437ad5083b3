"""Security checks over what a soak left behind:

- no log line holds seeded patient data (names, birth dates, phones, emails, streets, read from
  the sandbox's records), an access token the sandbox issued, a JWT, or key material (the PEM
  lines and the consumer secret of the credentials folder);
- the store file and its WAL files are readable by their owner only (0600), and, the store being
  encrypted, hold none of those patient values;
- `stagelink show` and `stagelink rows` print a name holding terminal escape sequences escaped,
  never as raw control characters, and so does the console (in tmux: the row's screen still
  stands, with the sequence shown as text);
- bad configuration and mapping files (huge durations, empty required keys, `${UNCLOSED`,
  out-of-range numbers, a value with a line break, plain http, the same Salesforce field mapped
  twice, an unknown resource type, a field name that is not an API name) are refused with a
  message naming the file, line and key, never a crash; a key file others may read is warned about.
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "EndToEnd"))
from console_tmux import Console  # noqa: E402

ESCAPE_PATIENT = "escape-sequence-probe"
ESCAPE_ID = "esc\u001b[2Jid"
# The id probe's search entry names it by its fullUrl (Patient/escape-id-probe), which its body's id
# disagrees with: it is staged under the fullUrl's id (identity check), its payload keeps the sequence.
ESCAPE_ID_ROW = "escape-id-probe"


def plant_escape_probe(sandbox):
    """Two Patients that would clear the screen and retitle the terminal if printed raw: one by
    its family name, one by its id (staged under its fullUrl's id, `ESCAPE_ID_ROW`)."""
    meta = '"meta":{"versionId":"1","lastUpdated":"2026-01-05T10:00:00Z"}'
    name = '{"resourceType":"Patient","id":"%s",%s,"name":[{"family":"Probe\\u001b[2J\\u001b]0;owned\\u0007","given":["Esc"]}],"gender":"other"}'
    sandbox.call("PUT", "/_sandbox/raw/fhir/Patient/" + ESCAPE_PATIENT, raw=(name % (ESCAPE_PATIENT, meta)).encode())
    identifier = '{"resourceType":"Patient","id":"esc\\u001b[2Jid",%s,"name":[{"family":"Probe"}],"gender":"other"}'
    sandbox.call("PUT", "/_sandbox/raw/fhir/Patient/escape-id-probe", raw=(identifier % meta).encode())


def phi_needles(sandbox):
    """Every seeded or edited value that is patient data, as text that must not reach a log."""
    values = set()
    for patient in sandbox.fhir_resources("Patient"):
        for name in patient.get("name") or []:
            values.add(name.get("family"))
            values.update(name.get("given") or [])
        values.add(patient.get("birthDate"))
        for telecom in patient.get("telecom") or []:
            values.add(telecom.get("value"))
        for address in patient.get("address") or []:
            values.update(address.get("line") or [])
    for contact in sandbox.salesforce_records("Contact"):
        for field in ["FirstName", "LastName", "Birthdate", "Phone", "Email", "MailingStreet"]:
            values.add(contact.get(field))
    return sorted(value for value in values if isinstance(value, str) and len(value.strip()) >= 3)


def secret_needles(sandbox, credentials_folder):
    needles = {token: "an access token" for token in sandbox.call("GET", "/_sandbox/tokens")}
    for name in os.listdir(credentials_folder):
        with open(os.path.join(credentials_folder, name), "r", errors="replace") as handle:
            text = handle.read()
        if "-----BEGIN" in text:
            for line in text.splitlines():
                if line and not line.startswith("-----") and len(line) >= 16:
                    needles[line] = "a line of %s" % name
        elif text.strip():
            needles[text.strip()] = "the content of %s" % name
    return needles


def check_store_sealed(workspace, phi):
    """With encryption on, the store's files (database, WAL, shared memory) hold none of the
    patient values, as bytes (UTF-8) anywhere in them: findings name the file and mask the value."""
    findings = []
    for suffix in ["", "-wal", "-shm"]:
        path = workspace.store + suffix
        if not os.path.exists(path):
            continue
        with open(path, "rb") as handle:
            data = handle.read()
        # Sealed bytes are random and sealed text is base64: a value shorter than 6 characters
        # would be found in them by chance (a 3-letter name once in 262,144 base64 positions).
        for value in (value for value in phi if len(value) >= 6):
            if value.encode("utf-8") in data:
                findings.append("%s holds a seeded patient value (%s…, %d characters)"
                                % (os.path.basename(path), value[:2], len(value)))
    return findings


def scan_logs(log_text, phi, secrets):
    """Findings as readable lines, each naming what leaked and where, with the value masked."""
    findings = []
    lines = log_text.splitlines()
    if phi:
        pattern = re.compile(r"(?<![\w])(" + "|".join(re.escape(value) for value in sorted(phi, key=len, reverse=True)) + r")(?![\w])")
        for number, line in enumerate(lines, 1):
            match = pattern.search(line)
            if match:
                findings.append("log line %d holds patient data %r…: %s" % (number, match.group(1)[:2], mask(line, match.group(1))))
    for number, line in enumerate(lines, 1):
        for needle, what in secrets.items():
            if needle in line:
                findings.append("log line %d holds %s: %s" % (number, what, mask(line, needle)))
        if re.search(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}", line):
            findings.append("log line %d holds a JWT" % number)
        if "-----BEGIN" in line:
            findings.append("log line %d holds a PEM header" % number)
    return findings


def mask(line, secret):
    return line.replace(secret, "<" + "*" * 6 + ">")[:160]


def check_store_modes(workspace):
    modes = workspace.store_modes()
    return ["%s has mode %s, not 0o600" % (name, mode) for name, mode in modes.items() if mode != "0o600"], modes


def check_escaping(workspace):
    """`show` and `rows` print the probes' escape sequences visibly escaped, never raw."""
    problems = []
    failed = workspace.json("rows", "--object", "Patient", "--status", "failed", "--limit", "100000")
    # By source id exactly, not by free text: free text finds the rows of every person whose words
    # match (in the soak's encrypted store through its blind index, docs/security.md).
    by_name = [row for row in failed if row["sourceID"] == ESCAPE_PATIENT]
    by_id = [row for row in failed if row["sourceID"] in (ESCAPE_ID, ESCAPE_ID_ROW)]
    # The listing shows a sequence only where a source id holds one.
    listed = any("\x1b" in row["sourceID"] for row in failed)
    if not by_name or not by_id:
        return ["an escape-sequence probe was never staged"]
    # (arguments, whether the output shows a probe's escape sequence)
    for args, shows in [(("show", str(by_name[0]["id"])), True), (("show", str(by_id[0]["id"])), True),
                        (("rows", "--object", "Patient", "--status", "failed", "--limit", "100000"), listed),
                        (("rows", "--text", ESCAPE_PATIENT), False)]:
        run = workspace.run(*args)
        if "\x1b" in run.stdout or "\x07" in run.stdout:
            problems.append("`stagelink %s` printed a raw control character" % " ".join(args))
        elif shows and "\\u001b" not in run.stdout and "\\u{1b}" not in run.stdout:
            problems.append("`stagelink %s` did not show the escape sequence escaped" % " ".join(args))
    return problems


def check_console_escaping(workspace):
    """The console shows each probe's row with the escape sequence as text: had it been sent to
    the terminal, tmux would have obeyed it (cleared the screen, retitled the window)."""
    problems = []
    probes = [row for row in workspace.json("rows", "--object", "Patient", "--status", "failed", "--limit", "100000")
              if row["sourceID"] in (ESCAPE_ID, ESCAPE_ID_ROW, ESCAPE_PATIENT)]
    with Console(workspace.binary, ["--config", workspace.config, "--operator", "proof"], cwd=workspace.folder) as console:
        console.wait_for("1 Live", timeout=30)
        for row in probes:
            console.command("row %s" % row["id"])
            screen = console.wait_for("Row %s" % row["id"], timeout=15)
            if "\\u{1b}" not in screen and "\\u001b" not in screen:
                problems.append("the console's row %s does not show its escape sequence as text" % row["id"])
            title = console._tmux("display-message", "-p", "-t", "console", "#{pane_title}")
            if "owned" in title or "\x1b" in screen:
                problems.append("the console's row %s let a control character reach the terminal" % row["id"])
            console.press("Escape")
        console.press("q")
    if len(probes) < 2:
        problems.append("the console check found %d of the 2 probes" % len(probes))
    return problems


REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (what the file says after `store:` and `mapping:`, the key the refusal must name, the line it is on)
CONFIGURATION_PROBES = [
    ("schedule:\n  every: 9999999999999h\n", "schedule.every", 4),
    ("schedule:\n  every: 1e17\n", "schedule.every", 4),
    ("schedule:\n  overlap: 99999999999999999h\n", "schedule.overlap", 4),
    ("schedule:\n  automaticRetries: -1\n", "schedule.automaticRetries", 4),
    ("schedule:\n  every: ~\n", "schedule.every", 4),
    ("emr:\n  baseURL: https://emr.example.org/fhir\n  clientID: ${UNCLOSED\n  privateKeyFile: key.pem\n", "emr.clientID", 5),
    ("emr:\n  baseURL: http://emr.example.org/fhir\n  clientID: x\n  privateKeyFile: key.pem\n", "emr.baseURL", 4),
    ("emr:\n  baseURL: https://emr.example.org/fhir\n  clientID: \"two\\nlines\"\n  privateKeyFile: key.pem\n", "emr.clientID", 5),
    ("emr:\n  baseURL: https://emr.example.org/fhir\n  clientID: x\n  privateKeyFile: key.pem\n  http: { maxConnections: 0 }\n",
     "emr.http.maxConnections", 7),
]

# (text of the shipped mapping, what replaces it, the key the refusal must name)
MAPPING_PROBES = [
    ("{ field: FirstName, path:", "{ field: LastName, path:", "inbound[0].fields[2]"),
    ("resource: EpisodeOfCare", "resource: EpisodeOfCaer", "inbound[1].resource"),
    ("{ field: FirstName, path:", "{ field: \"First Name; DROP\", path:", "inbound[0].fields[1].field"),
    ("path: \"name[0].given[0]\"", "path: \"name[99999999999].given[0]\"", "inbound[0].fields[1].path"),
]


def check_configuration_probes(binary):
    """Each bad configuration or mapping is refused by `stagelink rows` with an exit code, not a
    signal, and a message naming file:line and key; `run --every` with a huge duration too; a key
    file readable by others loads with a warning. Returns problems and the number of probes."""
    problems = []
    folder = tempfile.mkdtemp(prefix="stagelink-config-probes-")
    with open(os.path.join(REPOSITORY, "config", "mapping.yaml"), encoding="utf-8") as handle:
        shipped = handle.read()
    with open(os.path.join(folder, "key.pem"), "w") as handle:
        handle.write("not a key\n")
    os.chmod(os.path.join(folder, "key.pem"), 0o600)

    def refused(config, key, line, label):
        run = subprocess.run([binary, "rows", "--config", config], capture_output=True, text=True, cwd=folder, timeout=60)
        place = "%s:%d:" % (config, line) if line else config
        if run.returncode <= 0 or run.returncode >= 128 or "Fatal error" in run.stderr:
            problems.append("%s: exit %s, not a clean refusal: %s" % (label, run.returncode, run.stderr.strip()[-300:]))
        elif place not in run.stderr or (" %s:" % key) not in run.stderr:
            problems.append("%s: the refusal does not name %s and %s: %s" % (label, place, key, run.stderr.strip()[-300:]))

    for number, (text, key, line) in enumerate(CONFIGURATION_PROBES):
        config = os.path.join(folder, "config-%d.yaml" % number)
        with open(config, "w") as handle:
            handle.write("store: store.sqlite\nmapping: %s\n%s" % (os.path.join(REPOSITORY, "config", "mapping.yaml"), text))
        refused(config, key, line, "configuration probe %r" % text.strip())
    for number, (old, new, key) in enumerate(MAPPING_PROBES):
        mapping = os.path.join(folder, "mapping-%d.yaml" % number)
        with open(mapping, "w") as handle:
            handle.write(shipped.replace(old, new, 1))
        config = os.path.join(folder, "mapping-config-%d.yaml" % number)
        with open(config, "w") as handle:
            handle.write("store: store.sqlite\nmapping: %s\n" % mapping)
        run = subprocess.run([binary, "rows", "--config", config], capture_output=True, text=True, cwd=folder, timeout=60)
        if run.returncode <= 0 or run.returncode >= 128 or ("%s:" % mapping) not in run.stderr or (" %s:" % key) not in run.stderr:
            problems.append("mapping probe %r: exit %s: %s" % (new, run.returncode, run.stderr.strip()[-300:]))

    good = os.path.join(folder, "good.yaml")
    with open(good, "w") as handle:
        handle.write("store: store.sqlite\nmapping: %s\n" % os.path.join(REPOSITORY, "config", "mapping.yaml"))
    for every in ["99999999999999999h", "1e17"]:
        run = subprocess.run([binary, "run", "--every", every, "--config", good], capture_output=True, text=True, cwd=folder, timeout=60)
        if run.returncode <= 0 or run.returncode >= 128 or "--every" not in run.stderr:
            problems.append("run --every %s: exit %s: %s" % (every, run.returncode, run.stderr.strip()[-300:]))

    os.chmod(os.path.join(folder, "key.pem"), 0o644)
    readable = os.path.join(folder, "readable-key.yaml")
    with open(readable, "w") as handle:
        handle.write("store: store.sqlite\nmapping: %s\nemr:\n  baseURL: https://emr.example.org/fhir\n  clientID: x\n  privateKeyFile: key.pem\n"
                     % os.path.join(REPOSITORY, "config", "mapping.yaml"))
    # `rows` reads: it opens an existing store only, and refuses a missing or empty file (a mistyped
    # store is never made into a new one), so the store is made first by the command that owns it.
    store = os.path.join(folder, "store.sqlite")
    if not os.path.exists(store):
        made = subprocess.run([binary, "store", "migrate", "--config", good], capture_output=True, text=True, cwd=folder, timeout=60)
        if made.returncode != 0:
            problems.append("store migrate for the key-file probe: exit %s: %s" % (made.returncode, made.stderr.strip()[-300:]))
    run = subprocess.run([binary, "rows", "--config", readable], capture_output=True, text=True, cwd=folder, timeout=60)
    if run.returncode != 0 or "%s:6:" % readable not in run.stderr or "may be read by its group or others (mode 0644)" not in run.stderr:
        problems.append("a key file of mode 0644: exit %s, no warning naming it: %s" % (run.returncode, run.stderr.strip()[-300:]))
    return problems, len(CONFIGURATION_PROBES) + len(MAPPING_PROBES) + 3
