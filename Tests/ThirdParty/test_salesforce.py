"""simple-salesforce, unchanged, against the Salesforce simulator."""
import re

import pytest
from simple_salesforce import Salesforce
import requests
from simple_salesforce.exceptions import SalesforceGeneralError

from conftest import LoopbackSession


def login_jwt(sandbox):
    return Salesforce(
        username=sandbox["username"], consumer_key=sandbox["consumer_key"],
        privatekey_file=sandbox["salesforce_key"], session=LoopbackSession(sandbox["salesforce_url"]),
    )


def test_jwt_bearer_login_queries_and_reads_the_limit_info(sandbox):
    sf = login_jwt(sandbox)
    result = sf.query("SELECT Id, Username, Name FROM User")
    assert result["totalSize"] >= 2
    assert all(re.fullmatch(r"005\w{15}", record["Id"]) for record in result["records"])
    usage = sf.api_usage["api-usage"]
    assert usage.total == 1_000_000 and usage.used >= 1


def test_client_credentials_login_reads_describe(sandbox):
    secret = open(sandbox["salesforce_secret_file"]).read().strip()
    sf = Salesforce(
        consumer_key=sandbox["consumer_key"], consumer_secret=secret, domain="stagelink-sandbox.my",
        session=LoopbackSession(sandbox["salesforce_url"]),
    )
    describe = sf.Contact.describe()
    fields = {field["name"]: field for field in describe["fields"]}
    assert fields["EMR_Patient_Id__c"]["externalId"] is True
    assert [value["value"] for value in fields["Gender__c"]["picklistValues"]] == ["Male", "Female", "Other", "Unknown"]
    assert fields["LastName"]["length"] == 80 and fields["LastName"]["nillable"] is False


def test_collections_upsert_then_query_all_pages_past_two_thousand(sandbox):
    sf = login_jwt(sandbox)
    total = 2100
    for start in range(0, total, 200):
        records = [{
            "attributes": {"type": "Contact"}, "EMR_Patient_Id__c": f"py-{index}",
            "FirstName": "Zoë", "LastName": f"Müller {index}", "Gender__c": "Female", "Birthdate": "1990-02-03",
        } for index in range(start, min(start + 200, total))]
        results = sf.restful("composite/sobjects/Contact/EMR_Patient_Id__c", method="PATCH",
                             json={"allOrNone": False, "records": records})
        assert all(result["success"] and result["created"] for result in results), results[:3]

    first = sf.query("SELECT Id, EMR_Patient_Id__c, LastName FROM Contact WHERE EMR_Patient_Id__c LIKE 'py-%'")
    assert first["done"] is False and len(first["records"]) == 2000
    assert re.fullmatch(r"/services/data/v\d+\.\d/query/01g\w{12}-2000", first["nextRecordsUrl"])
    assert first["records"][0]["attributes"]["type"] == "Contact"

    everything = sf.query_all(
        "SELECT Id, EMR_Patient_Id__c, LastModifiedBy.Username FROM Contact "
        "WHERE EMR_Patient_Id__c LIKE 'py-%' ORDER BY EMR_Patient_Id__c")
    assert everything["totalSize"] == total and len(everything["records"]) == total
    assert {record["LastModifiedBy"]["Username"] for record in everything["records"]} == {sandbox["username"]}


def test_collections_upsert_reports_errors_per_record(sandbox):
    sf = login_jwt(sandbox)
    records = [
        {"attributes": {"type": "Contact"}, "EMR_Patient_Id__c": "py-good", "LastName": "Peña"},
        {"attributes": {"type": "Contact"}, "EMR_Patient_Id__c": "py-long", "LastName": "x" * 81},
        {"attributes": {"type": "Contact"}, "EMR_Patient_Id__c": "py-robot", "LastName": "Kowalski", "Gender__c": "Robot"},
    ]
    results = sf.restful("composite/sobjects/Contact/EMR_Patient_Id__c", method="PATCH",
                         json={"allOrNone": False, "records": records})
    assert [result["success"] for result in results] == [True, False, False]
    assert results[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert results[1]["errors"][0]["fields"] == ["LastName"]
    assert results[2]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def counts(sandbox):
    return requests.get(sandbox["salesforce_url"] + "/_sandbox/counts", timeout=10).json()


def test_an_expired_session_makes_simple_salesforce_log_in_again_and_retry(sandbox, faults):
    sf = login_jwt(sandbox)
    before = counts(sandbox)
    faults("salesforce.query", "expired-token")
    result = sf.query("SELECT Id FROM Contact LIMIT 1")
    after = counts(sandbox)
    assert result["totalSize"] == 1
    assert after["faults"]["salesforce.query"] == before["faults"]["salesforce.query"] + 1
    assert after["calls"]["salesforce.token"] == before["calls"]["salesforce.token"] + 1


def test_a_server_error_surfaces_as_simple_salesforces_own_exception(sandbox, faults):
    sf = login_jwt(sandbox)
    faults("salesforce.sobjects", "503")
    with pytest.raises(SalesforceGeneralError) as raised:
        sf.Contact.describe()
    assert raised.value.status == 503
