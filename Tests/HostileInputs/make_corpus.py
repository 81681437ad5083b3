#!/usr/bin/env python3
"""Writes the hostile-input corpus: one file per payload, exactly the bytes the FHIR simulator
serves (planted raw with `PUT /_sandbox/raw/fhir/{type}/{id}`, bypassing its validation).

Layout: <ResourceType>/<expectation>/<what-it-tests>.json, where the file's name (without .json)
is also the resource's id in the sandbox. Expectation `fails`: the row is staged verbatim and
fails with an error code and message; `links`: the payload is hostile-looking but valid FHIR, and
must arrive in Salesforce exactly as sent (no injection, no mangling); `withheld`: a security label
the default mapping blocks keeps it from Salesforce (staged, withheld, never sent).

The files are the corpus; this script only documents how the unprintable ones were made.
Run it from anywhere: python3 Tests/HostileInputs/make_corpus.py
"""
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
PATIENT = "Patient"
RESPONSE = "QuestionnaireResponse"
EPISODE = "EpisodeOfCare"
PHQ9_ITEMS = ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"]
# A patient of the corpus that links, so that responses and episodes can refer to a real Contact.
ANCHOR = "sql-text-in-family"

corpus = {}


def put(kind, expectation, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    corpus[(kind, expectation, name)] = data


def dumps(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def patient(pid, **changes):
    resource = {"resourceType": "Patient", "id": pid, "meta": {"versionId": "1", "lastUpdated": "2026-01-05T10:00:00Z"},
                "name": [{"family": "Hostile", "given": ["Test"]}], "birthDate": "1980-01-01", "gender": "female"}
    resource.update(changes)
    return resource


def response(rid, subject=ANCHOR, answers=None, total=None, **changes):
    answers = answers if answers is not None else [1] * 9
    items = [{"linkId": code, "answer": [{"valueInteger": a}]} for code, a in zip(PHQ9_ITEMS, answers)]
    items.append({"linkId": "44261-6", "answer": [{"valueInteger": total if total is not None else sum(answers)}]})
    resource = {"resourceType": "QuestionnaireResponse", "id": rid, "meta": {"versionId": "1", "lastUpdated": "2026-01-05T10:00:00Z"},
                "questionnaire": "http://loinc.org/44249-1", "status": "completed", "subject": {"reference": "Patient/" + subject},
                "authored": "2026-01-05T09:00:00Z", "item": items}
    resource.update(changes)
    return resource


def episode(eid, **changes):
    resource = {"resourceType": "EpisodeOfCare", "id": eid, "meta": {"versionId": "1", "lastUpdated": "2026-01-05T10:00:00Z"},
                "status": "active", "type": [{"coding": [{"system": "http://stagelink.dev/level-of-care", "code": "iop"}]}],
                "patient": {"reference": "Patient/" + ANCHOR}, "period": {"start": "2026-01-01"}}
    resource.update(changes)
    return resource


def raw_patient(pid, family_json):
    """A Patient whose family name is the given raw JSON text (valid or not)."""
    return ('{"resourceType":"Patient","id":"%s","meta":{"versionId":"1","lastUpdated":"2026-01-05T10:00:00Z"},'
            '"name":[{"family":%s,"given":["Test"]}],"birthDate":"1980-01-01","gender":"female"}' % (pid, family_json))


# --- Invalid JSON whose brackets still balance (the Bundle keeps its frame) ---
def invalid_json(name, text):
    put(PATIENT, "fails", name, text.replace("ID", name))


invalid_json("invalid-json-trailing-comma", '{"resourceType":"Patient","id":"ID","name":[{"family":"A",}],}')
invalid_json("invalid-json-single-quotes", "{'resourceType':'Patient','id':'ID'}")
invalid_json("invalid-json-unquoted-keys", '{resourceType:"Patient",id:"ID"}')
invalid_json("invalid-json-bare-word", '{"resourceType":"Patient","id":"ID","active":tru}')
invalid_json("invalid-json-nan", '{"resourceType":"Patient","id":"ID","multipleBirthInteger":NaN}')
invalid_json("invalid-json-infinity", '{"resourceType":"Patient","id":"ID","multipleBirthInteger":-Infinity}')
invalid_json("invalid-json-comment", '{"resourceType":"Patient",/* a comment */"id":"ID"}')
invalid_json("invalid-json-leading-zeros", '{"resourceType":"Patient","id":"ID","multipleBirthInteger":007}')
invalid_json("invalid-json-missing-colon", '{"resourceType":"Patient","id" "ID"}')
invalid_json("invalid-json-missing-value", '{"resourceType":"Patient","id":"ID","gender":}')
invalid_json("invalid-json-hex-number", '{"resourceType":"Patient","id":"ID","multipleBirthInteger":0x1F}')
invalid_json("invalid-json-bad-escape", '{"resourceType":"Patient","id":"ID","name":[{"family":"Sm\\xith"}]}')
invalid_json("invalid-json-short-unicode-escape", '{"resourceType":"Patient","id":"ID","name":[{"family":"Sm\\u12"}]}')
invalid_json("invalid-json-lone-surrogate-escape", '{"resourceType":"Patient","id":"ID","name":[{"family":"\\ud800"}]}')
invalid_json("invalid-json-raw-newline-in-string", '{"resourceType":"Patient","id":"ID","name":[{"family":"Smi\nth"}]}')
invalid_json("invalid-json-raw-nul-in-string", '{"resourceType":"Patient","id":"ID","name":[{"family":"Smi\x00th"}]}')
invalid_json("invalid-json-byte-order-mark", '\ufeff{"resourceType":"Patient","id":"ID"}')
invalid_json("invalid-json-two-values", '{"resourceType":"Patient","id":"ID"}{"resourceType":"Patient"}')
invalid_json("invalid-json-plus-sign-number", '{"resourceType":"Patient","id":"ID","multipleBirthInteger":+1}')

# --- Invalid UTF-8 (inside otherwise valid JSON) ---
for name, bad in [("invalid-utf8-ff-byte", b"\xff"), ("invalid-utf8-overlong-slash", b"\xc0\xaf"),
                  ("invalid-utf8-truncated-sequence", b"\xe2\x82"), ("invalid-utf8-encoded-surrogate", b"\xed\xa0\x80"),
                  ("invalid-utf8-five-byte-sequence", b"\xf8\x88\x80\x80\x80")]:
    put(PATIENT, "fails", name, raw_patient(name, '"Sm%sith"').encode().replace(b"%s", bad))

# --- Nesting, size ---
deep = "[" * 100_000 + "]" * 100_000
put(PATIENT, "fails", "deep-nesting-100000-arrays", dumps(patient("deep-nesting-100000-arrays"))[:-1] + ',"extension":' + deep + "}")
deep_objects = '{"a":' * 5_000 + "1" + "}" * 5_000
put(PATIENT, "fails", "deep-nesting-5000-objects", dumps(patient("deep-nesting-5000-objects"))[:-1] + ',"contained":[' + deep_objects + "]}")
put(PATIENT, "fails", "huge-family-name-1mb", dumps(patient("huge-family-name-1mb", name=[{"family": "A" * 1_000_000, "given": ["Test"]}])))
put(PATIENT, "fails", "huge-id-100kb", dumps(patient("X" * 100_000)))
put(PATIENT, "links", "huge-array-50000-names",
    dumps(patient("huge-array-50000-names", name=[{"family": "Arrayson", "given": ["Test"]}] + [{"family": "x%d" % i} for i in range(50_000)])))
put(PATIENT, "links", "huge-array-20000-telecoms",
    dumps(patient("huge-array-20000-telecoms", telecom=[{"system": "fax", "value": str(i)} for i in range(20_000)])))

# --- Numbers out of range, wrong types ---
put(RESPONSE, "fails", "score-item-1e999", dumps(response("score-item-1e999")).replace('"valueInteger":1}', '"valueInteger":1e999}', 1))
put(RESPONSE, "fails", "score-item-beyond-int64", dumps(response("score-item-beyond-int64")).replace('"valueInteger":1}', '"valueInteger":92233720368547758080}', 1))
put(RESPONSE, "fails", "score-item-negative", dumps(response("score-item-negative", answers=[-3, 1, 1, 1, 1, 1, 1, 1, 1])))
put(RESPONSE, "fails", "score-item-fraction", dumps(response("score-item-fraction")).replace('"valueInteger":1}', '"valueInteger":1.5}', 1))
put(RESPONSE, "fails", "score-item-above-maximum", dumps(response("score-item-above-maximum", answers=[9] * 9)))
put(RESPONSE, "fails", "score-total-disagrees-with-items", dumps(response("score-total-disagrees-with-items", total=26)))
put(PATIENT, "fails", "birthdate-as-number", dumps(patient("birthdate-as-number", birthDate=19800101)))
put(PATIENT, "fails", "birthdate-february-30", dumps(patient("birthdate-february-30", birthDate="1980-02-30")))
put(PATIENT, "fails", "birthdate-year-0", dumps(patient("birthdate-year-0", birthDate="0000-01-01")))
put(PATIENT, "fails", "name-as-string", dumps(patient("name-as-string", name="Hostile Test")))
put(PATIENT, "fails", "family-as-object", dumps(patient("family-as-object", name=[{"family": {"text": "Hostile"}}])))
put(PATIENT, "fails", "family-as-array", dumps(patient("family-as-array", name=[{"family": ["Hostile"]}])))
put(PATIENT, "fails", "gender-as-boolean", dumps(patient("gender-as-boolean", gender=True)))
put(PATIENT, "fails", "id-as-number", dumps(patient(12345)))
put(PATIENT, "fails", "resource-is-an-array", '[{"resourceType":"Patient","id":"resource-is-an-array"}]')
put(PATIENT, "fails", "resource-is-a-string", '"resourceType: Patient"')
put(PATIENT, "fails", "resource-is-null", "null")
put(PATIENT, "fails", "resource-is-empty-object", "{}")
put(PATIENT, "fails", "resource-type-missing", dumps({k: v for k, v in patient("resource-type-missing").items() if k != "resourceType"}))
put(PATIENT, "fails", "resource-type-account", dumps(patient("resource-type-account", resourceType="Account")))
put(PATIENT, "fails", "duplicate-key-family", raw_patient("duplicate-key-family", '"Hostile","family":"Other"'))
put(PATIENT, "fails", "duplicate-key-id", '{"resourceType":"Patient","id":"duplicate-key-id","id":"someone-else","name":[{"family":"Hostile"}]}')

# --- Nulls ---
put(PATIENT, "fails", "null-family", dumps(patient("null-family", name=[{"family": None, "given": ["Test"]}])))
put(PATIENT, "fails", "null-name-entries", dumps(patient("null-name-entries", name=[None, None])))
put(PATIENT, "fails", "nulls-everywhere", dumps({"resourceType": "Patient", "id": "nulls-everywhere", "meta": None, "name": None,
                                                 "birthDate": None, "gender": None, "telecom": None, "address": None}))
put(RESPONSE, "fails", "null-subject-and-items", dumps(response("null-subject-and-items", subject="NULL", item=None)).replace('{"reference":"Patient/NULL"}', "null"))

# --- Control characters, escape sequences, look-alike code ---
for name, family in [("escape-sequence-clear-screen-in-family", "Smith\u001b[2J\u001b[H"),
                     ("escape-sequence-window-title-in-family", "Smith\u001b]0;pwned\u0007"),
                     ("nul-character-in-family", "Smi\u0000th"),
                     ("c1-control-csi-in-family", "Smith\u009b31m"),
                     ("carriage-return-overwrite-in-family", "Smith\rEvil"),
                     ("backspace-in-given", None)]:
    if family is None:
        put(PATIENT, "fails", name, dumps(patient(name, name=[{"family": "Hostile", "given": ["Te\u0008\u0008xx"]}])))
    else:
        put(PATIENT, "fails", name, dumps(patient(name, name=[{"family": family, "given": ["Test"]}])))
put(PATIENT, "fails", "escape-sequence-in-id", dumps(patient("x\u001b[2Jx")))
put(PATIENT, "fails", "id-with-path-traversal", dumps(patient("../../Contact/003000000000001")))
put(PATIENT, "fails", "id-with-sql", dumps(patient("1' OR '1'='1")))
put(PATIENT, "fails", "id-too-long-65", dumps(patient("a" * 65)))
# A search entry whose fullUrl (Patient/<file name>) names another id than its body claims (the anchor's):
# it must fail alone (IDENTITY_MISMATCH), never overwrite the anchor's Contact.
put(PATIENT, "fails", "id-differs-from-fullurl", dumps(patient(ANCHOR, name=[{"family": "Overwritten", "given": ["Nobody"]}])))
put(PATIENT, "fails", "id-missing", dumps({k: v for k, v in patient("x").items() if k != "id"}))
put(PATIENT, "links", ANCHOR, dumps(patient(ANCHOR, name=[{"family": "O'Brien'); DROP TABLE staged_row;--", "given": ["Bobby"]}])))
put(PATIENT, "links", "soql-text-in-family", dumps(patient("soql-text-in-family", name=[{"family": "x' OR LastName != '", "given": ["SELECT Id FROM Contact"]}])))
put(PATIENT, "links", "json-text-in-family", dumps(patient("json-text-in-family", name=[{"family": "\"},{\"family\":\"Injected", "given": ["]}"]}])))
put(PATIENT, "links", "unicode-names-in-family", dumps(patient("unicode-names-in-family", name=[{"family": "Nguyễn-Ørsted 王 😀", "given": ["Zoë"]}])))
# Bidirectional controls and line/paragraph separators are valid text to both systems; printed
# anywhere (rows, show, why, conflicts, the console) they are shown escaped, never obeyed.
put(PATIENT, "links", "bidi-and-separators-in-family", dumps(patient("bidi-and-separators-in-family", name=[
    {"family": "Nguyen\u202eliated\u2066x\u2069\u200f\u061c", "given": ["Line\u2028Two\u2029"]}])))
put(PATIENT, "links", "meta-lastupdated-in-year-9999",
    dumps(patient("meta-lastupdated-in-year-9999", meta={"versionId": "1", "lastUpdated": "9999-12-31T23:59:59Z"})))

# --- Unknown codes, references to nothing ---
put(PATIENT, "fails", "unknown-gender-code", dumps(patient("unknown-gender-code", gender="robot")))
put(EPISODE, "fails", "unknown-episode-status", dumps(episode("unknown-episode-status", status="zombie")))
put(EPISODE, "fails", "unknown-level-of-care", dumps(episode("unknown-level-of-care", type=[{"coding": [{"code": "spa-weekend"}]}])))
put(EPISODE, "fails", "episode-of-nobody", dumps(episode("episode-of-nobody", patient={"reference": "Patient/does-not-exist"})))
put(EPISODE, "fails", "episode-reference-to-observation", dumps(episode("episode-reference-to-observation", patient={"reference": "Observation/1"})))
put(RESPONSE, "fails", "unknown-questionnaire", dumps(response("unknown-questionnaire", questionnaire="http://loinc.org/00000-0")))
put(RESPONSE, "fails", "response-of-nobody", dumps(response("response-of-nobody", subject="does-not-exist")))
put(RESPONSE, "fails", "response-reference-to-elsewhere", dumps(response("response-reference-to-elsewhere")).replace(
    '"Patient/%s"' % ANCHOR, '"https://evil.example/fhir/Patient/%s"' % ANCHOR))
put(RESPONSE, "fails", "authored-not-a-datetime", dumps(response("authored-not-a-datetime", authored="yesterday at noon")))

# --- Security labels (FHIR R4 meta.security). Expectation `withheld`: the row is staged verbatim,
# withheld naming the label, and nothing reaches Salesforce. The default mapping blocks v3-ActCode
# 42CFRPart2 and ETH (by URL or OID); a code without a system that is a blocked code is withheld too;
# a label on a contained resource counts for the whole record. The same code under another system is
# not HL7's code and links; labels that cannot be read fail. ---
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"


def labelled(resource, *codings):
    resource["meta"] = dict(resource["meta"], security=list(codings))
    return resource


put(PATIENT, "withheld", "label-42cfrpart2", dumps(labelled(patient("label-42cfrpart2"), {"system": ACT_CODE, "code": "42CFRPart2"})))
put(PATIENT, "withheld", "label-eth-by-oid", dumps(labelled(patient("label-eth-by-oid"), {"system": "urn:oid:2.16.840.1.113883.5.4", "code": "ETH"})))
put(PATIENT, "withheld", "label-eth-without-system", dumps(labelled(patient("label-eth-without-system"), {"code": "ETH"})))
put(PATIENT, "withheld", "label-behind-allowed-labels", dumps(labelled(patient("label-behind-allowed-labels"),
    {"system": CONFIDENTIALITY, "code": "N"}, {"system": "https://ehr.example/labels", "code": "VIP"}, {"system": ACT_CODE, "code": "ETH"})))
put(PATIENT, "withheld", "label-on-contained-resource", dumps(patient("label-on-contained-resource", contained=[
    {"resourceType": "Condition", "id": "sud", "meta": {"security": [{"system": ACT_CODE, "code": "42CFRPart2"}]},
     "subject": {"reference": "#"}}])))
put(EPISODE, "withheld", "label-42cfrpart2-on-episode", dumps(labelled(episode("label-42cfrpart2-on-episode"),
    {"system": CONFIDENTIALITY, "code": "R"}, {"system": ACT_CODE, "code": "42CFRPart2"})))
put(PATIENT, "links", "label-eth-of-unknown-system", dumps(labelled(patient("label-eth-of-unknown-system", name=[{"family": "Localcode", "given": ["Test"]}]),
    {"system": "https://ehr.example/local-labels", "code": "ETH"})))
put(PATIENT, "links", "label-confidentiality-restricted", dumps(labelled(patient("label-confidentiality-restricted", name=[{"family": "Restricted", "given": ["Test"]}]),
    {"system": CONFIDENTIALITY, "code": "R"})))
put(PATIENT, "fails", "label-security-not-a-list", dumps(dict(patient("label-security-not-a-list"), meta={"versionId": "1", "security": "ETH"})))
put(PATIENT, "fails", "label-coding-without-code", dumps(labelled(patient("label-coding-without-code"), {"system": ACT_CODE, "display": "42 CFR Part 2"})))

# --- Hostile identifiers: every id the clients might put into a URL or an upsert key (a Contact's
# EMR_Patient_Id__c, a retry's source id, an id typed for `stagelink push`). Each must stay inside
# its one path segment (percent-encoded) or be refused, and is never a FHIR or Salesforce id. ---
IDENTIFIERS = [
    "1011/../1015", "../../metadata", "..", ".", "", "./1015", "1015/.", "../1015", "1011/..", "%2e%2e", "%2E%2E%2F1015",
    "1011%2F..%2F1015", "a?b=c", "1015#frag", "100%", "%", "a b", "Patient/1015", "/1015", "1015/", "//evil.example/x",
    "1011\\..\\1015", "1015;x=y", "1015?_format=xml", "$export", "_history", "a\u0000b", "x\u001b[2Jx", "\u202e1015",
    "1015\r\nX-Injected: 1", "caf\u00e9", "\U0001F600", "1' OR '1'='1", "a" * 65, "9" * 1000, "003000000000001AAB",
    "003000000000001", "http://127.0.0.1/fhir/Patient/1", "~", "*", "@", ":", "[::1]",
]

# --- Hostile search text: what a person may type after `/` or into `stagelink rows --text`. Each must
# reach the person index (SQLite FTS5) as plain words, never as query syntax: quotes, `*` prefixes,
# NEAR groups, AND/OR/NOT, column filters (`name:`, `{a b}:`), `^` and `+`, control characters, SQL. ---
SEARCH_TEXTS = [
    "müller OR *", "*", "mül*", "\"müller\"", "\"", "\"\"\"", "müller\"", "NEAR(zoë müller)", "NEAR", "zoë NEAR müller",
    "name:müller", "identifiers:p1", "{name identifiers}:müller", "- name : müller", "^müller", "müller AND NOT zoë", "(müller", ")",
    "müller + zoë", "müller\u0000zoë", "müller\u001b[2J", "\u202emüller", "müller\r\nzoë", "'; DROP TABLE staged_row; --",
    "müller' OR '1'='1", "%_\\", "rank:1", "person_search", "", "   ",
]

shutil.rmtree(os.path.join(HERE, PATIENT), ignore_errors=True)
shutil.rmtree(os.path.join(HERE, RESPONSE), ignore_errors=True)
shutil.rmtree(os.path.join(HERE, EPISODE), ignore_errors=True)
for (kind, expectation, name), data in sorted(corpus.items()):
    folder = os.path.join(HERE, kind, expectation)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name + ".json"), "wb") as handle:
        handle.write(data)
with open(os.path.join(HERE, "identifiers.jsonl"), "w", encoding="utf-8") as handle:
    handle.write("".join(json.dumps(identifier, ensure_ascii=True) + "\n" for identifier in IDENTIFIERS))
with open(os.path.join(HERE, "search-text.jsonl"), "w", encoding="utf-8") as handle:
    handle.write("".join(json.dumps(text, ensure_ascii=True) + "\n" for text in SEARCH_TEXTS))
print("%d payloads: %d expected to fail, %d to link, %d to be withheld; %d hostile identifiers" % (
    len(corpus), sum(1 for key in corpus if key[1] == "fails"), sum(1 for key in corpus if key[1] == "links"),
    sum(1 for key in corpus if key[1] == "withheld"), len(IDENTIFIERS)))
