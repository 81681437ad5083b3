#!/usr/bin/env bash
# Installs the Debian packages Stagelink builds and tests against, if any are missing.
# Used by the README's two commands and by CI; safe to run again.
set -euo pipefail
packages=(libsqlite3-dev libncursesw5-dev libcurl4-openssl-dev tmux python3-venv)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "Installing: ${missing[*]}"
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
