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
  killed before or after its POST was settled by the next attempt's search);
- intended deletions and merges (the mutation driver's, read from /_sandbox/removals): each was
  staged as a row of its own and linked or held (0 lost), its rule reached the other side (a
  deleted Patient's Contact flagged EMR_Deleted__c, a merged one's flagged EMR_Merged_Into__c or
  handed to the survivor, a deleted Contact's Patient inactive), no Contact is made again for a
  Patient whose Contact was removed (0 duplicated), and Stagelink wrote nothing into a deleted or
  merged-away record after its removal. Records whose person was removed (the Patient, its
  Contact, its episodes and responses) are judged by these rules instead of by the ones above.
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


class Removals:
    """The deletions and merges the sandbox made, and the people they touched."""

    def __init__(self, sandbox):
        self.items = sandbox.removals()
        self.by_key = {(item["system"], item["type"], item["id"]): item for item in self.items}
        # EMR Patients removed in the EMR, and those whose Contact was removed in Salesforce.
        self.patients = {item["id"] for item in self.items if item["system"] == "fhir" and item["type"] == "Patient"}
        self.contact_patients = {}
        self.contacts = set()
        for item in self.items:
            if item["system"] == "salesforce" and item["type"] == "Contact":
                self.contacts.add(item["id"])
                patient = (item.get("record") or {}).get("EMR_Patient_Id__c")
                if patient:
                    self.contact_patients[patient] = item
        self.survivors = {item["survivor"] for item in self.items if item.get("survivor")}

    def touches_patient(self, patient):
        """Whether this EMR Patient, or its Contact, was deleted or merged away."""
        return patient in self.patients or patient in self.contact_patients


def subjects(sandbox, resource_type, element):
    """Each resource's Patient id (from `element`'s reference)."""
    found = {}
    for resource in sandbox.fhir_resources(resource_type):
        reference = ((resource.get(element) or {}).get("reference") or "")
        if reference.startswith("Patient/"):
            found[resource["id"]] = reference[len("Patient/"):]
    return found


def removal_problems(sandbox, workspace, latest, removals, contacts):
    """The intended deletions and merges, judged (see the module's doc)."""
    problems = []
    by_patient = {}
    for contact in contacts:
        if contact.get("EMR_Patient_Id__c"):
            by_patient.setdefault(contact["EMR_Patient_Id__c"], contact)
    patients = {resource["id"]: resource for resource in sandbox.fhir_resources("Patient")}
    for item in removals.items:
        system = "emr" if item["system"] == "fhir" else "salesforce"
        name = "%s/%s" % (item["type"], item["id"])
        what = "merge into %s" % item["survivor"] if item["kind"] == "merge" else "deletion"
        row = latest.get((system, item["type"], item["id"]))
        if row is None or row.get("kind") not in ("deletion", "merge"):
            problems.append("the %s of %s (%s) was not staged: its row is %s" % (what, name, item["at"], row["status"] if row else "missing"))
        elif row["status"] not in ("linked", "held"):
            problems.append("the %s of %s is %s (%s), not linked" % (what, name, row["status"], row.get("errorCode")))
        # Nothing written by Stagelink into the removed record after its removal.
        for write in sandbox.history(item["system"], item["type"], item["id"]):
            if write.get("endpoint") and write["at"] > item["at"]:
                problems.append("%s was written by Stagelink (%s %s) after its %s at %s" % (name, write["operation"], write["at"], what, item["at"]))
        if item["system"] == "fhir" and item["type"] == "Patient":
            contact = by_patient.get(item["id"])
            if item["kind"] == "deletion" and contact is not None and contact.get("EMR_Deleted__c") is not True:
                problems.append("%s was deleted in the EMR but its Contact %s is not flagged EMR_Deleted__c" % (name, contact["Id"]))
            if item["kind"] == "merge" and contact is not None and not contact.get("EMR_Merged_Into__c") and item["id"] not in removals.contact_patients:
                problems.append("%s was merged into Patient/%s but its Contact %s is not flagged EMR_Merged_Into__c" % (name, item["survivor"], contact["Id"]))
        if item["system"] == "salesforce" and item["type"] == "Contact":
            patient = (item.get("record") or {}).get("EMR_Patient_Id__c")
            if patient and patient in by_patient and by_patient[patient]["Id"] != item.get("survivor"):
                problems.append("a Contact (%s) was made again for Patient/%s after Contact %s was removed" % (by_patient[patient]["Id"], patient, item["id"]))
            resource = patients.get(patient) if patient else None
            if item["kind"] == "deletion" and resource is not None and patient not in removals.patients and resource.get("active") is not False:
                problems.append("Contact %s was deleted in Salesforce but Patient/%s is still active" % (item["id"], patient))
    return problems


def judge(sandbox, workspace):
    """Every problem found, as readable lines, and what was checked."""
    problems = duplicates(sandbox)
    counts = records_by_key(sandbox)
    latest = latest_rows(workspace)
    admissions = {record["Id"]: record for record in sandbox.salesforce_records("Admission__c")}
    removals = Removals(sandbox)
    checked = Counter()
    if removals.items:
        problems += removal_problems(sandbox, workspace, latest, removals, sandbox.salesforce_records("Contact"))
        checked["deletions and merges"] = len(removals.items)
        owners = {"EpisodeOfCare": subjects(sandbox, "EpisodeOfCare", "patient"),
                  "QuestionnaireResponse": subjects(sandbox, "QuestionnaireResponse", "subject")}
    for record in sandbox.truth():
        system = "emr" if record["system"] == "fhir" else "salesforce"
        name = "%s/%s" % (record["type"], record["id"])
        row = latest.get((system, record["type"], record["id"]))
        checked[record["type"]] += 1
        if removals.items:
            # A removed record, or one of a person removed on either side: judged by the removal rules.
            if (record["system"], record["type"], record["id"]) in removals.by_key:
                continue
            if record["type"] == "Patient" and removals.touches_patient(record["id"]):
                continue
            owner = owners.get(record["type"], {}).get(record["id"])
            if owner is not None and removals.touches_patient(owner):
                continue
            if record["type"] == "Admission__c":
                contact = (admissions.get(record["id"]) or {}).get("Contact__c") or ""
                if contact in removals.contacts or contact in removals.survivors:
                    # Its Contact deleted, or merged into (the admission reparented): at most one of each.
                    continue
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
