"""Fixtures: where the sandbox runs (set by run.sh) and sessions that reach it over loopback HTTP."""
import os
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import jwt
import pytest
import requests


def env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run Tests/ThirdParty/run.sh")
    return value


class LoopbackSession(requests.Session):
    """simple-salesforce always builds https:// URLs; send them to the sandbox's plain-http ports instead:
    login.salesforce.com to the simulator's login host, every other Salesforce host to its My Domain."""

    def __init__(self, base_url, login_url=None):
        super().__init__()
        self.target = urlsplit(base_url)
        self.login = urlsplit(login_url or os.environ.get("SANDBOX_SALESFORCE_LOGIN_URL") or base_url)

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        if parts.scheme == "https" and (parts.hostname or "").endswith("salesforce.com") or parts.netloc == self.target.netloc:
            target = self.login if parts.hostname == "login.salesforce.com" else self.target
            url = urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))
        return super().request(method, url, *args, **kwargs)


@pytest.fixture(scope="session")
def sandbox():
    return {
        "salesforce_url": env("SANDBOX_SALESFORCE_URL"),
        "fhir_url": env("SANDBOX_FHIR_URL"),
        "salesforce_key": env("SANDBOX_SALESFORCE_KEY"),
        "salesforce_secret_file": env("SANDBOX_SALESFORCE_SECRET_FILE"),
        "username": env("SANDBOX_USERNAME"),
        "consumer_key": env("SANDBOX_CONSUMER_KEY"),
        "fhir_key": env("SANDBOX_FHIR_KEY"),
        "fhir_client_id": env("SANDBOX_FHIR_CLIENT_ID"),
    }


@pytest.fixture(scope="session")
def truth(sandbox):
    return requests.get(sandbox["salesforce_url"] + "/_sandbox/truth", timeout=30).json()


@pytest.fixture
def faults(sandbox):
    """Injects faults through the inspection API and clears them after the test."""
    url = sandbox["salesforce_url"] + "/_sandbox/faults"

    def inject(endpoint, kind, **options):
        body = {"endpoint": endpoint, "kind": kind, "nextCalls": 1, **options}
        reply = requests.post(url, json=body, timeout=10)
        assert reply.status_code == 201, reply.text

    yield inject
    requests.delete(url, timeout=10)


def fhir_token(sandbox, scope="system/*.read system/*.write"):
    """SMART Backend Services: a client assertion signed with the registered key, exchanged for a token."""
    discovery = requests.get(sandbox["fhir_url"] + "/.well-known/smart-configuration", timeout=10).json()
    token_url = discovery["token_endpoint"]
    key = open(sandbox["fhir_key"], "rb").read()
    client = sandbox["fhir_client_id"]
    assertion = jwt.encode(
        {"iss": client, "sub": client, "aud": token_url, "exp": int(time.time()) + 240, "jti": str(uuid.uuid4())},
        key, algorithm="ES384", headers={"kid": client + "-key"},
    )
    reply = requests.post(token_url, data={
        "grant_type": "client_credentials", "scope": scope,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }, timeout=10)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["token_type"].lower() == "bearer" and body["expires_in"] > 0
    return body["access_token"]


@pytest.fixture(scope="session")
def fhir(sandbox):
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + fhir_token(sandbox)
    session.headers["Accept"] = "application/fhir+json"
    return session
