"""Security checks over what a soak left behind:

- no log line holds seeded patient data (names, birth dates, phones, emails, streets, read from
  the sandbox's records), an access token the sandbox issued, a JWT, or key material (the PEM
  lines and the consumer secret of the credentials folder);
- the store file and its WAL files are readable by their owner only (0600);
- `stagelink show` and `stagelink rows` print a name holding terminal escape sequences escaped,
  never as raw control characters, and so does the console (in tmux: the row's screen still
  stands, with the sequence shown as text).
"""
import os
import re
import sys

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
    by_name = workspace.json("rows", "--text", ESCAPE_PATIENT, "--limit", "5")
    failed = workspace.json("rows", "--object", "Patient", "--status", "failed", "--limit", "100000")
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
