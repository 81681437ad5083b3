"""fhir.resources (R4B models) and fhirclient (R4 models), unchanged, against the FHIR simulator."""
import json

import pytest
import requests
from fhir.resources.R4B.bundle import Bundle as R4BBundle
from fhir.resources.R4B.patient import Patient as R4BPatient
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse as R4BQuestionnaireResponse
from fhirclient.models.bundle import Bundle as R4Bundle
from fhirclient.models.capabilitystatement import CapabilityStatement
from fhirclient.models.fhirabstractbase import FHIRValidationError
from pydantic import ValidationError


def search_all(fhir, url):
    """Follows Bundle.link[next] to the end; returns the bundles."""
    bundles = []
    while url:
        reply = fhir.get(url, timeout=30)
        assert reply.status_code == 200, reply.text
        assert reply.headers["Content-Type"].startswith("application/fhir+json")
        bundles.append(reply.json())
        url = next((link["url"] for link in reply.json().get("link", []) if link["relation"] == "next"), None)
    return bundles


def test_metadata_is_a_valid_capability_statement(sandbox):
    statement = CapabilityStatement(requests.get(sandbox["fhir_url"] + "/metadata", timeout=10).json(), strict=True)
    served = {resource.type for resource in statement.rest[0].resource}
    assert {"Patient", "EpisodeOfCare", "QuestionnaireResponse", "ServiceRequest", "Questionnaire"} <= served


def test_patient_search_pages_to_the_total_and_good_patients_validate(sandbox, fhir, truth):
    bundles = search_all(fhir, sandbox["fhir_url"] + "/Patient?_count=37&_sort=_lastUpdated")
    total = bundles[0]["total"]
    resources = [entry["resource"] for bundle in bundles for entry in bundle.get("entry", [])]
    assert len(bundles) > 1 and len(resources) == total
    bad = {record["id"]: record["fault"] for record in truth if record["type"] == "Patient" and not record["good"]}
    for resource in resources:
        if resource["id"] in bad:
            continue
        patient = R4BPatient.model_validate(resource)
        assert patient.meta.versionId and patient.meta.lastUpdated
    invalid_dates = [resource for resource in resources if bad.get(resource["id"], {}).get("kind") == "invalid-birth-date"]
    assert invalid_dates, "the seed plants a Patient with an impossible birthDate"
    with pytest.raises(ValidationError):
        R4BPatient.model_validate(invalid_dates[0])
    for bundle in bundles:
        R4Bundle(bundle, strict=False)


def test_questionnaire_responses_carry_correct_totals(sandbox, fhir, truth):
    bad = {record["id"] for record in truth if record["type"] == "QuestionnaireResponse" and not record["good"]}
    bundles = search_all(fhir, sandbox["fhir_url"] + "/QuestionnaireResponse?_count=200")
    checked = 0
    for bundle in bundles:
        R4BBundle.model_validate(bundle)
        for entry in bundle.get("entry", []):
            response = R4BQuestionnaireResponse.model_validate(entry["resource"])
            if response.id in bad:
                continue
            items = {item.linkId: item.answer[0].valueInteger for item in response.item}
            total_code = {"http://loinc.org/44249-1": "44261-6", "http://loinc.org/69737-5": "70274-6"}[response.questionnaire]
            total = items.pop(total_code)
            assert all(0 <= value <= 3 for value in items.values())
            assert total == sum(items.values())
            checked += 1
    assert checked > 0


def test_conditional_create_then_update_with_if_match(sandbox, fhir, truth):
    patient = {
        "resourceType": "Patient", "name": [{"family": "王", "given": ["芳"]}], "gender": "female",
        "birthDate": "1979-04-02",
        "identifier": [{"system": "https://stagelink.dev/sid/salesforce-contact", "value": "003PYTHONTEST00001"}],
    }
    condition = {"If-None-Exist": "identifier=https://stagelink.dev/sid/salesforce-contact|003PYTHONTEST00001"}
    created = fhir.post(sandbox["fhir_url"] + "/Patient", json=patient, headers=condition, timeout=10)
    assert created.status_code == 201 and created.headers["ETag"] == 'W/"1"'
    assert created.headers["Location"].startswith(sandbox["fhir_url"] + "/Patient/")
    again = fhir.post(sandbox["fhir_url"] + "/Patient", json=patient, headers=condition, timeout=10)
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]

    stored = R4BPatient.model_validate(created.json())
    body = created.json()
    body["telecom"] = [{"system": "phone", "value": "+1-555-123-4567"}]
    url = f"{sandbox['fhir_url']}/Patient/{stored.id}"
    updated = fhir.put(url, json=body, headers={"If-Match": 'W/"1"'}, timeout=10)
    assert updated.status_code == 200 and updated.json()["meta"]["versionId"] == "2"
    stale = fhir.put(url, json=body, headers={"If-Match": 'W/"1"'}, timeout=10)
    assert stale.status_code == 412 and stale.json()["resourceType"] == "OperationOutcome"


def test_a_schema_invalid_resource_is_rejected_by_the_model_library(sandbox, fhir, faults):
    first = search_all(fhir, sandbox["fhir_url"] + "/Patient?_count=5")[0]
    faults("fhir.read", "schema-invalid-resource")
    broken = fhir.get(f"{sandbox['fhir_url']}/Patient/{first['entry'][0]['resource']['id']}", timeout=10)
    assert broken.status_code == 200
    with pytest.raises(ValidationError):
        R4BPatient.model_validate(broken.json())


def test_a_dropped_connection_and_a_truncated_body_surface_as_client_errors(sandbox, fhir, faults):
    faults("fhir.search", "dropped-connection")
    with pytest.raises(requests.exceptions.RequestException):
        fhir.get(sandbox["fhir_url"] + "/Patient?_count=20", timeout=10)
    faults("fhir.search", "malformed-json")
    truncated = fhir.get(sandbox["fhir_url"] + "/Patient?_count=20", timeout=10)
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated.text)
