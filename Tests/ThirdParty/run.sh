#!/usr/bin/env bash
# Runs third-party clients (simple-salesforce, fhir.resources, fhirclient) against `stagelink sandbox`.
# Installs them into a virtual environment, builds and starts the sandbox on free ports, runs pytest,
# and always stops the sandbox.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${STAGELINK_THIRDPARTY_VENV:-$root/.build/thirdparty-venv}"
work="$(mktemp -d)"
pid=""

cleanup() {
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

if [[ ! -x "$venv/bin/python" ]]; then python3 -m venv "$venv"; fi
"$venv/bin/pip" install --quiet --disable-pip-version-check \
    simple-salesforce fhirclient fhir.resources pytest pyjwt cryptography

(cd "$root" && swift build --product stagelink)
binary="$(cd "$root" && swift build --show-bin-path)/stagelink"

"$binary" sandbox --mapping "$root/config/mapping.yaml" --salesforce-port 0 --fhir-port 0 --patients 300 --bad-share 0.05 --seed 11 \
    --credentials-dir "$work/keys" >"$work/sandbox.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    grep -q "Press Ctrl-C" "$work/sandbox.out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/sandbox.out"; exit 1; }
    sleep 0.1
done
grep -q "Press Ctrl-C" "$work/sandbox.out" || { echo "the sandbox did not start"; cat "$work/sandbox.out"; exit 1; }

field() { awk -v key="$1" '$0 ~ key { print $NF; exit }' "$work/sandbox.out"; }
export SANDBOX_SALESFORCE_URL="$(awk '/^Salesforce/ { print $2; exit }' "$work/sandbox.out")"
export SANDBOX_SALESFORCE_LOGIN_URL="$(awk '/login host/ { print $3; exit }' "$work/sandbox.out")"
export SANDBOX_FHIR_URL="$(awk '/^FHIR/ { print $2; exit }' "$work/sandbox.out")"
export SANDBOX_USERNAME="$(field "username")"
export SANDBOX_CONSUMER_KEY="$(field "consumer key")"
export SANDBOX_FHIR_CLIENT_ID="$(field "client id")"
export SANDBOX_SALESFORCE_KEY="$work/keys/salesforce-private-key.pem"
export SANDBOX_SALESFORCE_SECRET_FILE="$work/keys/salesforce-consumer-secret.txt"
export SANDBOX_FHIR_KEY="$work/keys/fhir-private-key.pem"

cd "$root/Tests/ThirdParty"
timeout 600 "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
