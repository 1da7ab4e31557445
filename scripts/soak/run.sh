#!/usr/bin/env bash
# The soak: the four service binaries against a private PostgreSQL cluster, loaded by `tica soak`
# (verifications, searches, hours pushes, gradings) for DURATION seconds, with throughput, p99
# latency, errors and each service's resident memory printed every 10 s.
#
#   scripts/soak/run.sh [--failover] [DURATION]       (default 600 s)
#
# --failover restarts PostgreSQL (pg_ctl restart, fast mode) half-way through; the services must
# recover by themselves, and `tica soak` then checks that no write was lost or applied twice.
# Environment: SOAK_DIR (scratch, default /tmp/tica-soak), SOAK_TEACHERS (per county, 60),
# SOAK_CONCURRENCY (8), SOAK_PROFILE (debug or release, default debug), SOAK_PORT_BASE (56000).
set -euo pipefail
cd "$(dirname "$0")/../.."

failover=0
if [ "${1:-}" = "--failover" ]; then failover=1; shift; fi
duration="${1:-600}"
dir="${SOAK_DIR:-/tmp/tica-soak}"
teachers="${SOAK_TEACHERS:-60}"
concurrency="${SOAK_CONCURRENCY:-8}"
profile="${SOAK_PROFILE:-debug}"
base="${SOAK_PORT_BASE:-56000}"
pg_port=$((base + 432))
pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"

as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -c "$*"; else sh -c "$*"; fi
}

build_flag=()
[ "$profile" = release ] && build_flag=(--release)
# The whole workspace's features, as `cargo test --workspace` builds them (its artifacts are reused).
cargo build "${build_flag[@]}" --workspace --bins
bin="$(pwd)/target/$profile"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  as_postgres "$pg_bin/pg_ctl -D $dir/pg -m fast -w stop" >/dev/null 2>&1 || true
}
trap cleanup EXIT

rm -rf "$dir"
mkdir -p "$dir/data" "$dir/logs"
chmod 777 "$dir" "$dir/logs"
as_postgres "$pg_bin/initdb -D $dir/pg -A trust -U postgres" >/dev/null
as_postgres "$pg_bin/pg_ctl -D $dir/pg -o '-p $pg_port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200' -l $dir/logs/postgres.log -w start" >/dev/null
url="postgres://postgres@127.0.0.1:$pg_port/postgres"

# The token key the soak signs with; the services trust its public half.
mkdir -p "$dir/data/keys"
openssl genpkey -algorithm ed25519 -out "$dir/data/keys/token-signing.pem"
openssl pkey -in "$dir/data/keys/token-signing.pem" -pubout -out "$dir/data/keys/token-signing.pub.pem"

common=(
  TICA_DATABASE_URL="$url"
  TICA_TOKEN_PUBLIC_KEYS="$dir/data/keys"
  TICA_ROSTER_URL="http://127.0.0.1:$((base + 51))"
  TICA_ASSESSMENT_URL="http://127.0.0.1:$((base + 52))"
  RUST_LOG=warn
  TICA_SHUTDOWN_TIMEOUT=5
  # The soak comes from one address: lift the per-client limits of the public methods.
  TICA_PUBLIC_RATE_PER_MINUTE=100000000
  TICA_PUBLIC_BURST=1000000
)
start() { # name port admin-port extra-env...
  local name=$1 port=$2 admin=$3
  shift 3
  env "${common[@]}" TICA_LISTEN="127.0.0.1:$port" TICA_ADMIN_LISTEN="127.0.0.1:$admin" "$@" \
    "$bin/tica-$name" >"$dir/logs/$name.log" 2>&1 &
  pids+=($!)
  eval "pid_$name=$!"
}
start roster $((base + 51)) $((base + 91))
start assessment $((base + 52)) $((base + 92)) TICA_EVIDENCE_STORE="$dir/evidence"
start sampling $((base + 53)) $((base + 93))
start certificate $((base + 54)) $((base + 94)) \
  TICA_HTTP_LISTEN="127.0.0.1:$((base + 80))" \
  TICA_VERIFY_BASE_URL="http://127.0.0.1:$((base + 80))" \
  TICA_CERT_KEYS="$(pwd)/deploy/dev-keys/certificate-keys" TICA_CERT_ACTIVE_KEY=dev-1 \
  TICA_CERT_SEARCH_SECRET_FILE="$(pwd)/deploy/dev-keys/search-secret" \
  TICA_CERT_ARCHIVE_DIR="$dir/archives" TICA_CERT_GUESS_BUDGET=100000000 \
  TICA_TRUSTED_PROXIES=127.0.0.1
for admin in 91 92 93 94; do
  for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:$((base + admin))/healthz" >/dev/null && break
    sleep 0.5
  done
  curl -fs "http://127.0.0.1:$((base + admin))/healthz" >/dev/null || {
    tail -n 20 "$dir"/logs/*.log
    echo "a service did not start" >&2
    exit 1
  }
done

soak=(
  "$bin/tica" soak
  --roster "http://127.0.0.1:$((base + 51))" --assessment "http://127.0.0.1:$((base + 52))"
  --sampling "http://127.0.0.1:$((base + 53))" --certificate "http://127.0.0.1:$((base + 54))"
  --http "http://127.0.0.1:$((base + 80))" --data-dir "$dir/data"
  --teachers "$teachers" --concurrency "$concurrency" --duration "$duration" --interval 10
  --pid "roster=$pid_roster,assessment=$pid_assessment,sampling=$pid_sampling,certificate=$pid_certificate"
)
if [ "$failover" = 1 ]; then
  soak+=(--failover-after $((duration / 2))
    --failover-command "$(declare -f as_postgres); as_postgres '$pg_bin/pg_ctl -D $dir/pg -m fast -w restart -o \"-p $pg_port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200\" -l $dir/logs/postgres.log' >/dev/null")
fi
echo "soak: $profile build, PostgreSQL on 127.0.0.1:$pg_port, $duration s, failover=$failover, $(nproc) cores"
"${soak[@]}"
# Every service is still up and answers.
for admin in 91 92 93 94; do
  curl -fs "http://127.0.0.1:$((base + admin))/healthz" >/dev/null || { echo "a service died" >&2; exit 1; }
done
echo "soak: every service still healthy"
