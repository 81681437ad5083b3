#!/usr/bin/env bash
# Installs Stagelink as a systemd service: the release binary, a starter configuration to edit,
# a dedicated system user, the store folder, and the unit `stagelink.service`.
#
#   sudo scripts/install.sh                      # build, install, enable nothing yet
#   sudo systemctl enable --now stagelink        # once /etc/stagelink/stagelink.yaml is edited
#
# Options:
#   --binary PATH     install this binary instead of building the release one
#   --root DIR        install under DIR (a staging root: no user is created, systemd is not told)
#   --prefix DIR      where bin/stagelink goes (default /usr/local)
#   --config-dir DIR  stagelink.yaml, mapping.yaml and keys/ (default /etc/stagelink)
#   --state-dir DIR   the store folder, the only one the service may write (default /var/lib/stagelink)
#   --user NAME       the service's system user (default stagelink)
#   --listen ADDR     service.listen of the starter configuration (default 127.0.0.1:9464)
#
# An existing configuration is never overwritten; the binary and the unit are replaced.
set -euo pipefail

root=""
binary=""
prefix=/usr/local
config_dir=/etc/stagelink
state_dir=/var/lib/stagelink
user=stagelink
listen=127.0.0.1:9464
while (($#)); do
    case "$1" in
        --binary) binary="$2"; shift 2 ;;
        --root) root="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
        --prefix) prefix="$2"; shift 2 ;;
        --config-dir) config_dir="$2"; shift 2 ;;
        --state-dir) state_dir="$2"; shift 2 ;;
        --user) user="$2"; shift 2 ;;
        --listen) listen="$2"; shift 2 ;;
        -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$user" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || { echo "install.sh: --user must be a system user name" >&2; exit 2; }
for path in "$prefix" "$config_dir" "$state_dir"; do
    [[ "$path" == /* && "$path" != *[[:space:]]* ]] || { echo "install.sh: $path must be an absolute path without spaces" >&2; exit 2; }
done

repository="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -z "$binary" ]]; then
    echo "Building the release binary…"
    (cd "$repository" && swift build -c release --product stagelink)
    binary="$(cd "$repository" && swift build -c release --show-bin-path)/stagelink"
fi
[[ -x "$binary" ]] || { echo "install.sh: no executable at $binary" >&2; exit 1; }

if [[ -z "$root" && $(id -u) -ne 0 ]]; then
    echo "install.sh: run as root (sudo), or pass --root DIR to stage the files" >&2
    exit 1
fi

# The service's user: a system account with no login and no home but the store folder.
if [[ -z "$root" ]] && ! id -u "$user" >/dev/null 2>&1; then
    useradd --system --home-dir "$state_dir" --no-create-home --shell /usr/sbin/nologin --user-group "$user"
    echo "created the system user $user"
fi
owner() { if [[ -z "$root" ]]; then chown "$@"; fi; }

install -d -m 0755 "$root$prefix/bin"
install -m 0755 "$binary" "$root$prefix/bin/stagelink"
echo "installed $root$prefix/bin/stagelink"

# The configuration: readable by the service, writable by root only; keys go in keys/ (0640).
install -d -m 0750 "$root$config_dir" "$root$config_dir/keys"
owner "root:$user" "$root$config_dir" "$root$config_dir/keys"
if [[ -e "$root$config_dir/stagelink.yaml" ]]; then
    echo "kept the existing $root$config_dir/stagelink.yaml"
else
    # The starter file with its store in the state folder (the only place the service may write).
    staging="$(mktemp -d)"
    "$binary" init --dir "$staging" >/dev/null
    sed -e "s|^store: stagelink.sqlite|store: $state_dir/stagelink.sqlite|" -e "s|^  listen: 127.0.0.1:9464|  listen: $listen|" \
        "$staging/stagelink.yaml" >"$root$config_dir/stagelink.yaml"
    [[ -e "$root$config_dir/mapping.yaml" ]] || cp "$staging/mapping.yaml" "$root$config_dir/mapping.yaml"
    rm -rf "$staging"
    chmod 0640 "$root$config_dir/stagelink.yaml" "$root$config_dir/mapping.yaml"
    owner "root:$user" "$root$config_dir/stagelink.yaml" "$root$config_dir/mapping.yaml"
    echo "wrote $root$config_dir/stagelink.yaml and mapping.yaml: edit the REPLACE values and put the key files in keys/"
fi

# The store folder: the service's own, nobody else's.
install -d -m 0700 "$root$state_dir"
owner "$user:$user" "$root$state_dir"

# The unit. ProtectSystem=strict makes the whole file system read-only for the service but the
# store folder; SIGTERM lets the current batch finish and records the job as interrupted.
unit_dir="$root/etc/systemd/system"
install -d -m 0755 "$unit_dir"
cat >"$unit_dir/stagelink.service" <<UNIT
[Unit]
Description=Stagelink: Salesforce and FHIR EMR sync
Documentation=man:systemd.service(5)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=$user
Group=$user
ExecStart=$prefix/bin/stagelink run --config $config_dir/stagelink.yaml
WorkingDirectory=$state_dir
# A stop: SIGTERM, the current batch finishes, the job is recorded as interrupted, exit 0.
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=90
Restart=on-failure
RestartSec=10s
# Hardening: nothing writable but the store folder, no new privileges, no devices, no home.
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=$state_dir
StateDirectory=$(basename "$state_dir")
StateDirectoryMode=0700
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
CapabilityBoundingSet=
UMask=0077

[Install]
WantedBy=multi-user.target
UNIT
chmod 0644 "$unit_dir/stagelink.service"
echo "installed $unit_dir/stagelink.service"

# The unit checked by systemd itself (its ExecStart pointed at the binary as installed here).
if command -v systemd-analyze >/dev/null 2>&1; then
    check="$(mktemp -d)"
    sed "s|^ExecStart=$prefix/bin/stagelink|ExecStart=$root$prefix/bin/stagelink|" "$unit_dir/stagelink.service" >"$check/stagelink.service"
    if ! output="$(systemd-analyze verify --man=no "$check/stagelink.service" 2>&1)" || grep -qE "Failed to parse|Unknown (key|section)|ignoring" <<<"$output"; then
        echo "$output" >&2
        echo "install.sh: systemd-analyze verify found problems in stagelink.service" >&2
        rm -rf "$check"
        exit 1
    fi
    rm -rf "$check"
    echo "systemd-analyze verify: stagelink.service is valid"
else
    echo "systemd-analyze is not installed here: stagelink.service was not verified (it is on the target machine by systemctl daemon-reload)"
fi

if [[ -z "$root" ]] && command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload
    echo "Next: edit $config_dir/stagelink.yaml, then: systemctl enable --now stagelink"
else
    echo "Next: edit $root$config_dir/stagelink.yaml; on the target machine: systemctl daemon-reload && systemctl enable --now stagelink"
fi
