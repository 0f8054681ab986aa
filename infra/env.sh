# Sourced by the project's scripts: the pinned tools first on PATH, nothing sent anywhere.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$root/.venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
# The newest PostgreSQL major (infra/setup.sh installs it; infra/test.sh runs the PostgreSQL
# tests on it as well as on the distribution's).
pg_newest_version=18.6.0
pg_newest="$root/.venv/postgresql-$pg_newest_version"
