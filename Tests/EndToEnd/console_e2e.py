#!/usr/bin/env python3
"""The console end to end, as support staff use it, against the real binary, service and sandbox.

1. Starts `stagelink sandbox` (with bad records) and `stagelink run` (the service, every 3 s) on
   a configuration written for it, and waits for the first cycles.
2. Opens `stagelink console` in tmux (120x40), goes to Failures, finds the patient whose birth
   date is not a date, fixes the record at its source through the sandbox inspection API, opens
   the failed row and presses `r`: the status line reports it linked, and the row the retry
   fetched shows linked.
   A patient is found with `/` by a name typed without its accents (`muller` finds Müller). An
   episode of a patient planted with a bad birth date waits on her (`WAITING_ON_PARENT`): its
   detail names the parent, `P` opens the parent's row, and once the parent is fixed at its
   source, `r` links her and the episode that waited with her.
3. Opens the staged row of an admission that is not ready for intake and presses `p`: the status
   line shows the EMR ids (Patient/…, ServiceRequest/…) the push returned.
4. Three conflicts held for review (Contact.LastName set to `hold`, the same patients renamed on
   both sides) are resolved at once: space marks each, `e` takes the EMR's names with one reason,
   and all three are resolved in the store with that reason.
5. A pull that failed (the EMR's search answers malformed JSON for a while) opens on its detail
   with the reason it failed; a row ignored from the CLI is un-ignored with `u`.
6. Quits with `q` (exit status 0).

Every wait is bounded; the whole test is bounded by --timeout.

    Tests/EndToEnd/console_e2e.py --binary .build/release/stagelink
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from console_tmux import Console  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def http(method: str, url: str, body: object | None = None) -> object | None:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
        return json.loads(text) if text else None


def start_sandbox(binary: str, work: str) -> tuple[subprocess.Popen, dict[str, str]]:
    log = open(os.path.join(work, "sandbox.out"), "w")
    process = subprocess.Popen(
        [binary, "sandbox", "--patients", "80", "--bad-share", "0.1", "--seed", "5",
         "--credentials-dir", os.path.join(work, "keys"), "--mapping", os.path.join(ROOT, "config/mapping.yaml")],
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.time() + 120
    while time.time() < deadline:
        text = open(os.path.join(work, "sandbox.out")).read()
        if "Press Ctrl-C" in text:
            break
        if process.poll() is not None:
            raise SystemExit(f"the sandbox stopped:\n{text}")
        time.sleep(0.2)
    else:
        raise SystemExit("the sandbox did not start")

    def field(label: str) -> str:
        match = re.search(rf"^\s*{label}\s+(\S+)", text, re.M)
        if not match:
            raise SystemExit(f"no {label!r} in the sandbox's banner:\n{text}")
        return match.group(1)

    keys = re.findall(r"private key\s+(\S+)", text)
    return process, {
        "salesforce": field("Salesforce"), "fhir": field("FHIR"), "username": field("username"),
        "consumer_key": field("consumer key"), "client_id": field("client id"),
        "salesforce_key": keys[0], "fhir_key": keys[1],
        "algorithm": "RS384" if "RS384" in text else "ES384",
    }


def write_configuration(work: str, sandbox: dict[str, str]) -> str:
    path = os.path.join(work, "stagelink.yaml")
    with open(path, "w") as file:
        file.write(f"""store: store.sqlite
mapping: {os.path.join(ROOT, 'config/mapping.yaml')}
schedule: {{ every: 3s, overlap: 30s }}
salesforce:
  loginURL: {sandbox['salesforce']}
  auth: {{ flow: jwt-bearer, consumerKey: {sandbox['consumer_key']}, username: {sandbox['username']}, privateKeyFile: {sandbox['salesforce_key']} }}
  http: {{ idleTimeout: 10s, requestTimeout: 30s }}
emr:
  baseURL: {sandbox['fhir']}
  clientID: {sandbox['client_id']}
  privateKeyFile: {sandbox['fhir_key']}
  algorithm: {sandbox['algorithm']}
  http: {{ idleTimeout: 10s, requestTimeout: 30s }}
""")
    return path


def cli_json(binary: str, config: str, *arguments: str) -> object:
    output = subprocess.run([binary, *arguments, "--config", config, "--json"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    if output.returncode not in (0, 1, 2):
        raise SystemExit(f"stagelink {' '.join(arguments)} failed: {output.stderr}")
    return json.loads(output.stdout)


def plant_conflicts(binary: str, config: str, base: str, count: int = 3) -> list[dict]:
    """Sets Contact.LastName to `hold`, renames `count` linked patients on both sides, and waits for
    their conflicts to be held for review."""
    subprocess.run([binary, "policy", "set", "Contact.LastName", "hold", "--reason", "e2e: names need review", "--config", config,
                    "--operator", "ci"], check=True, capture_output=True, timeout=60, cwd=ROOT)
    linked = {row["sourceID"] for row in cli_json(binary, config, "rows", "--object", "Patient", "--status", "linked", "--limit", "200")}
    contacts = [contact for contact in http("GET", f"{base}/_sandbox/records/salesforce/Contact")
                if contact.get("EMR_Patient_Id__c") in linked]
    if len(contacts) < count:
        raise SystemExit(f"only {len(contacts)} linked patients have a Contact to rename")
    renamed = []
    for number, contact in enumerate(contacts[:count]):
        patient_id = contact["EMR_Patient_Id__c"]
        patient = http("GET", f"{base}/_sandbox/records/fhir/Patient/{patient_id}")
        http("PATCH", f"{base}/_sandbox/edit/salesforce/Contact/{contact['Id']}", {"LastName": f"Konflikt-SF{number}"})
        patient["name"][0]["family"] = f"Konflikt-EMR{number}"
        http("PUT", f"{base}/_sandbox/edit/fhir/Patient/{patient_id}", patient)
        renamed.append(patient_id)
    deadline = time.time() + 90
    while time.time() < deadline:
        held = [conflict for conflict in cli_json(binary, config, "conflicts", "--open", "--limit", "200")
                if conflict["field"] == "LastName" and conflict["record"] in renamed]
        if len({conflict["record"] for conflict in held}) == count:
            return held
        time.sleep(1)
    raise SystemExit(f"the renamed patients {renamed} have no held LastName conflicts: "
                     + json.dumps(cli_json(binary, config, "conflicts", "--limit", "20"))[:2000])


def fail_a_pull(binary: str, config: str, base: str) -> dict:
    """Makes the EMR's searches answer malformed JSON until a pull job fails, then clears the fault."""
    http("POST", f"{base}/_sandbox/faults", {"endpoint": "fhir.search", "kind": "malformed-json", "rate": 1.0})
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            failed = [job for job in cli_json(binary, config, "jobs", "--limit", "50") if job.get("status") == "failed"]
            if failed:
                return failed[0]
            time.sleep(1)
        raise SystemExit("no job failed while the EMR answered malformed JSON: " + json.dumps(cli_json(binary, config, "jobs", "--limit", "5"))[:2000])
    finally:
        http("DELETE", f"{base}/_sandbox/faults")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/stagelink"))
    parser.add_argument("--timeout", type=float, default=300)
    arguments = parser.parse_args()
    signal.alarm(int(arguments.timeout))
    binary = os.path.abspath(arguments.binary)
    work = tempfile.mkdtemp(prefix="stagelink-console-e2e-")
    sandbox_process, sandbox = start_sandbox(binary, work)
    service = None
    try:
        config = write_configuration(work, sandbox)
        service = subprocess.Popen([binary, "run", "--config", config], stdout=open(os.path.join(work, "service.out"), "w"),
                                   stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.time() + 120
        while time.time() < deadline:
            status = cli_json(binary, config, "status") if os.path.exists(os.path.join(work, "store.sqlite")) else {}
            # Each direction's pull and link (ServiceHealth's JSON): both succeeded once.
            if all(status.get(d, {}).get(step, {}).get("lastSuccess") for d in ("inbound", "outbound") for step in ("pull", "link")):
                break
            time.sleep(1)
        else:
            raise SystemExit("the service did not finish a cycle in 120 s:\n" + open(os.path.join(work, "service.out")).read())
        print("service: first cycles done")

        base = sandbox["salesforce"]
        truth = http("GET", f"{base}/_sandbox/truth")
        bad = next(record for record in truth if (record.get("fault") or {}).get("kind") == "invalid-birth-date")
        rows = cli_json(binary, config, "rows", "--object", "Patient", "--text", bad["id"])
        failed = next(row for row in rows if row["sourceID"] == bad["id"] and row["status"] == "failed")
        print(f"bad patient {bad['id']}: row {failed['id']} failed with {failed['errorCode']}")
        # A patient whose birth date is not a date, and an episode of hers, planted at the source: the
        # episode is refused while she is not linked, and waits on her.
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        parent_id = "e2e-waits"
        parent_resource = {"resourceType": "Patient", "id": parent_id, "meta": {"versionId": "1", "lastUpdated": stamp},
                           "name": [{"family": "Wartend", "given": ["Jörg"]}], "gender": "male", "birthDate": "1985-13-45"}
        http("PUT", f"{base}/_sandbox/raw/fhir/Patient/{parent_id}", parent_resource)
        http("PUT", f"{base}/_sandbox/raw/fhir/EpisodeOfCare/{parent_id}-episode", {
            "resourceType": "EpisodeOfCare", "id": f"{parent_id}-episode", "meta": {"versionId": "1", "lastUpdated": stamp}, "status": "active",
            "patient": {"reference": f"Patient/{parent_id}"}, "period": {"start": "2026-01-05"}})
        child = None
        deadline = time.time() + 60
        while child is None and time.time() < deadline:
            children = cli_json(binary, config, "rows", "--status", "failed", "--error", "WAITING_ON_PARENT", "--text", parent_id)
            child = next((row for row in children if row["resourceType"] == "EpisodeOfCare"), None)
            time.sleep(1)
        if child is None:
            raise SystemExit(f"the episode of Patient {parent_id} does not wait on it: " + json.dumps(cli_json(binary, config, "rows", "--text", parent_id))[:2000])
        parent_row = next(row for row in cli_json(binary, config, "rows", "--object", "Patient", "--text", parent_id) if row["status"] == "failed")
        print(f"row {child['id']} (EpisodeOfCare) waits on its parent, row {parent_row['id']} ({parent_row['errorCode']})")
        # A patient with an accented name, to find by the name typed without its accents.
        accented = None
        for name, typed in (("Müller", "muller"), ("Peña", "pena"), ("García", "garcia"), ("Nguyễn", "nguyen")):
            found = cli_json(binary, config, "rows", "--object", "Patient", "--text", typed)
            if any(name in (row.get("name") or "") for row in found):
                accented = (name, typed)
                break
        if accented is None:
            raise SystemExit("no seeded patient has an accented name the person index finds unaccented")

        admissions = [record for record in truth if record["type"] == "Admission__c" and not record.get("fault")]
        waiting = None
        for record in admissions:
            admission = http("GET", f"{base}/_sandbox/records/salesforce/Admission__c/{record['id']}")
            if admission.get("Stage__c") in ("New", "Screening") and admission.get("Contact__c") and not admission.get("EMR_ServiceRequest_Id__c"):
                waiting = record["id"]
                break
        if waiting is None:
            raise SystemExit("no admission waits before intake in the seed")
        admission_rows = cli_json(binary, config, "rows", "--object", "Admission__c", "--text", waiting)
        admission_row = next(row for row in admission_rows if row["sourceID"] == waiting)

        held = plant_conflicts(binary, config, base)
        print(f"conflicts held for review: {sorted(conflict['id'] for conflict in held)}")
        failed_job = fail_a_pull(binary, config, base)
        print(f"job {failed_job['id']} ({failed_job.get('kind')}) failed: {failed_job.get('message')}")

        with Console(binary, ["--config", config, "--operator", "ci"], cwd=ROOT) as console:
            console.wait_for("1 Live", timeout=20)
            console.press("3")
            console.wait_for("MAPPING_INVALID_DATE", timeout=20)
            print("console: Failures shows MAPPING_INVALID_DATE")
            console.wait_for("⏳ parent", timeout=10)
            print("console: Failures shows rows waiting on their parent apart")

            # Find a patient by name, typed without its accents.
            console.press("2")
            console.filter(accented[1])
            console.wait_for(f"Staged({accented[1]})[", timeout=10)
            console.wait_for(accented[0], timeout=10)
            print(f"console: /{accented[1]} finds {accented[0]}")
            console.press("Escape")

            # Follow the waiting row to its parent, fix the parent at its source and retry it: the
            # row that waited links with it.
            console.command(f"row {child['id']}")
            console.wait_for(f"Row {child['id']}", timeout=10)
            console.wait_for(f"Patient {parent_id} · row {parent_row['id']}", timeout=10)
            console.press("P")
            console.wait_for(re.compile(rf"Row {parent_row['id']} — EMR Patient {parent_id}"), timeout=10)
            print(f"console: P on row {child['id']} opens its parent, row {parent_row['id']}")
            parent_resource["birthDate"] = "1985-12-15"
            http("PUT", f"{base}/_sandbox/edit/fhir/Patient/{parent_id}", parent_resource)
            console.press("r")
            console.wait_for(re.compile(r"retried \d+ rows? \(job \d+\): .*\d+ linked"), timeout=60)
            print("console: r on the parent →", console.status().strip())
            after = cli_json(binary, config, "rows", "--object", "EpisodeOfCare", "--text", child["sourceID"])
            if not any(row["sourceID"] == child["sourceID"] and row["status"] == "linked" for row in after):
                raise SystemExit(f"the episode that waited on Patient {parent_id} did not link with it: {after}")
            print("console: the episode that waited linked with its patient")
            console.press("Escape", "Escape")

            # Fix the record where it lives, as a clinician would in the EMR.
            patient = http("GET", f"{sandbox['salesforce']}/_sandbox/records/fhir/Patient/{bad['id']}")
            patient["birthDate"] = "1985-12-15"
            http("PUT", f"{base}/_sandbox/edit/fhir/Patient/{bad['id']}", patient)

            console.command(f"row {failed['id']}")
            console.wait_for(f"Row {failed['id']}", timeout=10)
            console.press("r")
            console.wait_for(re.compile(r"retried \d+ rows? \(job \d+\): .*1 linked"), timeout=60)
            print("console: r →", console.status().strip())
            after = cli_json(binary, config, "rows", "--object", "Patient", "--text", bad["id"])
            linked = [row for row in after if row["sourceID"] == bad["id"] and row["status"] == "linked"]
            if not linked:
                raise SystemExit(f"no linked row for Patient {bad['id']} after the retry: {after}")
            console.press("Escape")
            console.command(f"row {linked[0]['id']}")
            console.wait_for(re.compile(rf"Row {linked[0]['id']} .*linked"), timeout=10)
            print(f"console: row {linked[0]['id']} shows linked")

            console.press("Escape")
            console.command(f"row {admission_row['id']}")
            console.wait_for(f"Row {admission_row['id']}", timeout=10)
            console.press("p")
            screen = console.wait_for(re.compile(r"ServiceRequest/\S+"), timeout=60)
            print("console: p →", console.status().strip())
            if "Patient/" not in screen:
                raise SystemExit("the push did not show the Patient id the EMR returned")

            # Home as PuTTY and the Linux console send it (ESC [ 1 ~) is one key: it goes to the top
            # of the detail instead of backing out of it as Esc and letters.
            console.press("End")
            console.wait_gone("Summary", timeout=10)
            console.press("\x1b[1~")
            console.wait_for("Summary", timeout=10)
            console.wait_for(f"Row {admission_row['id']}", timeout=5)
            print("console: Home as ESC [ 1 ~ goes to the top of the detail")

            # Ignore a failure from the CLI, then un-ignore it from the console with a reason.
            fixed_codes = ("MAPPING_INVALID_DATE", "MAPPING_INVALID_VALUE", "INVALID_FIELD", "REQUIRED_FIELD_MISSING", "STRING_TOO_LONG")
            failures = cli_json(binary, config, "rows", "--status", "failed", "--limit", "200")
            victim = next((row for row in failures if row["id"] != failed["id"] and row.get("errorCode") in fixed_codes), None)
            if victim is None:
                raise SystemExit(f"no failure that waits for a person to un-ignore: {failures[:5]}")
            subprocess.run([binary, "ignore", str(victim["id"]), "--reason", "e2e: set aside", "--config", config, "--operator", "ci"],
                           check=True, capture_output=True, timeout=60, cwd=ROOT)
            console.press("Escape")
            console.command(f"row {victim['id']}")
            console.wait_for(re.compile(rf"Row {victim['id']} .*ignored"), timeout=20)
            console.press("u")
            console.wait_for(f"Un-ignore row {victim['id']}", timeout=10)
            console.type("e2e: needs fixing after all", enter=True)
            console.wait_for("un-ignored 1 row", timeout=30)
            back = cli_json(binary, config, "rows", "--status", "failed", "--text", victim["sourceID"])
            if not any(row["id"] == victim["id"] for row in back):
                raise SystemExit(f"row {victim['id']} is not failed again after u: {back}")
            print(f"console: u un-ignored row {victim['id']}")
            console.command("events")
            console.wait_for(f"ci un-ignored 1 row ({victim['id']})", timeout=20)
            print("console: the un-ignore is in the Events view")

            # Three conflicts resolved at once: marked with space, settled by e with one reason.
            console.command("conflicts")
            console.filter("open Contact")
            console.wait_for("Konflikt-EMR", timeout=20)
            console.press(" ", " ", " ", pause=0.3)
            console.wait_for("● 3 marked", timeout=10)
            console.press("e")
            console.wait_for("Take the EMR value for 3 marked conflicts", timeout=10)
            console.type("e2e: the EMR holds the legal name", enter=True)
            console.wait_for("resolved 3 of 3 conflicts", timeout=30)
            decided = {conflict["id"]: conflict for conflict in cli_json(binary, config, "conflicts", "--limit", "200")}
            for conflict in held:
                after = decided.get(conflict["id"]) or {}
                if after.get("status") != "resolved" or after.get("winner") != "emr" or after.get("reason") != "e2e: the EMR holds the legal name":
                    raise SystemExit(f"conflict {conflict['id']} is not resolved with the EMR's value and the reason: {after}")
            print(f"console: space ×3 then e resolved conflicts {sorted(conflict['id'] for conflict in held)} with one reason")

            # A failed job opens on its detail, with the reason it failed.
            console.command(f"job {failed_job['id']}")
            console.wait_for(re.compile(rf"Job {failed_job['id']} — .* — \S* ?failed"), timeout=10)
            reason = failed_job.get("message") or ""
            console.wait_for("MALFORMED_RESPONSE" if "MALFORMED_RESPONSE" in reason else reason[:40], timeout=10)
            print(f"console: :job {failed_job['id']} opens the failed job with its reason: {reason[:80]}")
            console.press("q")

            # A job opens on its detail; Enter there lists its rows.
            console.command("job 1")
            console.wait_for(re.compile(r"Job 1 — \w+"), timeout=10)
            console.wait_for("watermark", timeout=5)
            console.press("Enter")
            console.wait_for(re.compile(r"Job 1 \w+(\(job:1\))?\["), timeout=10)
            print("console: :job 1 opens the job's detail, Enter its rows")

            # q in an opened view goes back; Q quits from anywhere.
            console.press("q")
            console.wait_for(re.compile(r"Job 1 — \w+"), timeout=10)
            console.press("Q")
            code = console.exit_code()
            if code != 0:
                raise SystemExit(f"the console exited with {code}")
        print("console end to end: passed")
        return 0
    finally:
        for process in (service, sandbox_process):
            if process and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


if __name__ == "__main__":
    sys.exit(main())
