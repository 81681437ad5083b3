"""The final comparison of the sandbox with its seeded truth, read the way an operator would:
the sandbox's records through /_sandbox/, the store through `stagelink rows --json` and
`stagelink show --json`.

- lost: a good seeded EMR Patient without its Contact, a good QuestionnaireResponse without its
  Assessment, a good admission that reached "Ready for Intake" without its Patient and
  ServiceRequest, any other good record whose latest row is not linked;
- duplicated: a second Contact for an EMR patient, a second Patient for a Contact, a second
  Assessment or ServiceRequest for one source record;
- bad records: each latest row failed (or ignored) with an error naming the field at fault;
- labelled records (42 CFR Part 2): each latest row withheld, and no Contact holds a detox level
  of care (only those withheld episodes carry one);
- the store: `PRAGMA integrity_check` is ok, and no create intent is left standing (each create
  killed before or after its POST was settled by the next attempt's search).
"""
from collections import Counter, defaultdict

CONTACT_IDENTIFIER = "https://stagelink.dev/sid/salesforce-contact"
ADMISSION_IDENTIFIER = "https://stagelink.dev/sid/salesforce-admission"
READY = "Ready for Intake"


def duplicates(sandbox):
    """Source records that exist more than once on the other side, as readable lines."""
    problems = []
    counts = records_by_key(sandbox)
    for label, counter in [("EMR patient %s has %d Contacts", counts["contacts"]),
                           ("QuestionnaireResponse %s has %d Assessments", counts["assessments"]),
                           ("Contact %s has %d Patients", counts["patients"]),
                           ("Admission %s has %d ServiceRequests", counts["requests"])]:
        for key, copies in sorted(counter.items()):
            if copies > 1:
                problems.append(label % (key, copies))
    return problems


def records_by_key(sandbox):
    def by_field(records, field):
        return Counter(record[field] for record in records if record.get(field))

    def by_identifier(resources, system):
        counter = Counter()
        for resource in resources:
            for identifier in resource.get("identifier") or []:
                if identifier.get("system") == system:
                    counter[identifier.get("value")] += 1
        return counter

    return {
        "contacts": by_field(sandbox.salesforce_records("Contact"), "EMR_Patient_Id__c"),
        "assessments": by_field(sandbox.salesforce_records("Assessment__c"), "EMR_Assessment_Id__c"),
        "patients": by_identifier(sandbox.fhir_resources("Patient"), CONTACT_IDENTIFIER),
        "requests": by_identifier(sandbox.fhir_resources("ServiceRequest"), ADMISSION_IDENTIFIER),
    }


def latest_rows(workspace):
    """The row that holds each source record's state: (system, type, source id) → row summary.

    That is its newest row that is not superseded. A superseded row was replaced by another row
    of the same record (a newer version, or the version already linked when the superseded row
    was a copy damaged in transit), so it never tells where the record stands; a record whose
    rows are all superseded has no state and is reported as not staged."""
    rows = workspace.json("rows", "--limit", "10000000", timeout=300)
    latest = {}
    for row in rows:  # newest first
        if row["status"] != "superseded":
            latest.setdefault((row["system"], row["resourceType"], row["sourceID"]), row)
    return latest


def judge(sandbox, workspace):
    """Every problem found, as readable lines, and what was checked."""
    problems = duplicates(sandbox)
    counts = records_by_key(sandbox)
    latest = latest_rows(workspace)
    admissions = {record["Id"]: record for record in sandbox.salesforce_records("Admission__c")}
    checked = Counter()
    for record in sandbox.truth():
        system = "emr" if record["system"] == "fhir" else "salesforce"
        name = "%s/%s" % (record["type"], record["id"])
        row = latest.get((system, record["type"], record["id"]))
        checked[record["type"]] += 1
        if not record["good"]:
            fault = record["fault"]
            if row is None or row["status"] not in ("failed", "ignored"):
                problems.append("%s is bad (%s) but is %s" % (name, fault["kind"], row["status"] if row else "not staged"))
                continue
            shown = workspace.json("show", str(row["id"]))
            error = shown.get("error") or {}
            if fault["field"] not in (error.get("fields") or []):
                problems.append("%s failed without naming %s: %s" % (name, fault["field"], error.get("code")))
            continue
        if record.get("withheldBy"):
            # Labelled (42 CFR Part 2): staged, withheld naming the label, never sent.
            if row is None or row["status"] != "withheld":
                problems.append("%s is labelled %s but is %s" % (name, record["withheldBy"], row["status"] if row else "not staged"))
            continue
        if record["type"] == "Patient":
            if counts["contacts"][record["id"]] != 1:
                problems.append("%s arrived %d times as a Contact" % (name, counts["contacts"][record["id"]]))
        elif record["type"] == "QuestionnaireResponse":
            if counts["assessments"][record["id"]] != 1:
                problems.append("%s arrived %d times as an Assessment" % (name, counts["assessments"][record["id"]]))
        elif record["type"] == "Admission__c":
            admission = admissions.get(record["id"]) or {}
            if admission.get("Stage__c") != READY:
                continue
            contact = admission.get("Contact__c") or ""
            if counts["patients"][contact] != 1:
                problems.append("%s made %d Patients" % (name, counts["patients"][contact]))
            if counts["requests"][record["id"]] != 1:
                problems.append("%s made %d ServiceRequests" % (name, counts["requests"][record["id"]]))
        elif row is None or row["status"] not in ("linked", "held"):
            problems.append("%s is %s, not linked" % (name, row["status"] if row else "not staged"))
    leaked = [c for c in sandbox.salesforce_records("Contact") if c.get("Level_of_Care__c") == "Detox"]
    if leaked:
        problems.append("%d Contacts hold a withheld (42 CFR Part 2) level of care" % len(leaked))
    integrity = workspace.integrity()
    if integrity != "ok":
        problems.append("PRAGMA integrity_check: %s" % integrity)
    standing = workspace.create_intents()
    if standing:
        problems.append("%d create intents are left standing: %s" % (len(standing), ", ".join(standing[:5])))
    return problems, checked


def row_statuses(workspace):
    """How many current rows are in each status, for the report."""
    statuses = defaultdict(int)
    for row in latest_rows(workspace).values():
        statuses[row["status"]] += 1
    return dict(statuses)
