#!/usr/bin/env bash
# Start the local PostgreSQL cluster if it is not answering (this machine kind starts it
# before every session, but a fresh CI machine or a reboot may not have).
set -euo pipefail
if pg_isready -q; then exit 0; fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
echo "PostgreSQL is not running; starting cluster $version/main" >&2
pg_ctlcluster --skip-systemctl-redirect "$version" main start
for _ in $(seq 1 30); do pg_isready -q && exit 0; sleep 1; done
echo "PostgreSQL did not become ready" >&2
exit 1
