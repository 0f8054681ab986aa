#!/usr/bin/env bash
# Installs everything the demo, the tests and the template checks need: a Python virtualenv at
# .venv with moto server, cfn-lint, SAM CLI, cargo-lambda and zig (pinned), and PostgreSQL's
# and MariaDB server binaries from the distribution when they are missing.
# Idempotent: does nothing when .venv already matches infra/requirements.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
req="$root/infra/requirements.txt"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)

# PostgreSQL server binaries for the database rotation tests and demo (Debian's package).
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing PostgreSQL (Debian package)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "setup: PostgreSQL server binaries (initdb, postgres) are required: install your distribution's postgresql package" >&2
    exit 1
  fi
fi

# MariaDB's server and install tool for the MySQL/MariaDB rotation tests (Debian's packages; the
# -core packages carry no service scripts, so nothing starts a server on install).
if ! [ -x /usr/sbin/mariadbd ] || ! command -v mariadb-install-db >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing MariaDB (Debian packages)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mariadb-server-core mariadb-client-core >/dev/null
  else
    echo "setup: MariaDB's server (mariadbd, mariadb-install-db) is required: install your distribution's mariadb-server-core and mariadb-client-core packages" >&2
    exit 1
  fi
fi

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
command -v python3 >/dev/null || { echo "setup: python3 is required" >&2; exit 1; }
echo "setup: installing pinned tools into $venv (one-time, a few minutes)" >&2
if ! python3 -m venv "$venv" 2>/dev/null; then
  # Debian's python3 ships venv separately.
  if command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  fi
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
echo "setup: done" >&2
