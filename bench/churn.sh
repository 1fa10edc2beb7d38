#!/usr/bin/env bash
# bench/churn.sh: memory and database size of caddy-oidc under steady churn,
# on loopback only, bounded by DURATION seconds (default 600).
#
#   bench/churn.sh                              # SQLite, 10 minutes
#   DURATION=60 INTERVAL=5 bench/churn.sh       # a short smoke run
#   CHURN_STORAGE=postgres bench/churn.sh       # a fresh database on BENCH_PG
#
# It builds Caddy with this plugin and the harness's load generator (opbench,
# patched as bench/run.sh does), starts our provider (the storage named by
# CHURN_STORAGE: sqlite or postgres, as BENCH_STORAGES in run.sh) with the
# admin endpoint on 127.0.0.1:CHURN_ADMIN_PORT (default 9119; its /metrics
# gives the Go heap) and short lifespans (CHURN_ACCESS_LIFESPAN 1m,
# CHURN_REFRESH_LIFESPAN 2m, so grants expire within the run and the
# collection of expired rows, every minute, has work), and runs two load
# generators side by side, each with CHURN_C workers (default 4) at a steady
# pace (opbench -rate, bench/opbench-pace.patch): code flows (authorize, code,
# token, userinfo) at CHURN_FLOW_RATE per second (default 30) and
# refresh-token rotation at CHURN_REFRESH_RATE per second (default 60), in
# chunks of at most 60 s. A steady pace makes the database's size a question
# of the collection alone: as fast as possible, the rows stored follow the
# machine's other load. Every INTERVAL seconds (default 10) it samples the Caddy
# process's RSS (VmRSS), the Go heap (go_memstats_heap_alloc_bytes and
# heap_inuse), the database's size (SQLite: the file and its WAL;
# PostgreSQL: pg_database_size) and the rows in oauth2_access and
# oauth2_refresh.
#
# Output in bench/results/<UTC stamp>-churn/: churn.csv (the samples),
# load-flow.jsonl and load-refresh.jsonl (opbench's line per chunk) and
# summary.md (bench/churn_summary.py: first against last third of the run,
# means and slopes of RSS, heap and database size). It exits non-zero on
# errors only (Caddy died or did not start, a load generator failed or saw
# failed requests, a sample could not be taken), never on the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PEERS_SRC=${PEERS_SRC:-$ROOT/../shared/peers}
DURATION=${DURATION:-600}
INTERVAL=${INTERVAL:-10}
CHURN_STORAGE=${CHURN_STORAGE:-sqlite}
CHURN_C=${CHURN_C:-4}
CHURN_FLOW_RATE=${CHURN_FLOW_RATE:-30}
CHURN_REFRESH_RATE=${CHURN_REFRESH_RATE:-60}
ADMIN=127.0.0.1:${CHURN_ADMIN_PORT:-9119}
ISSUER=http://127.0.0.1:9103
case $DURATION$INTERVAL$CHURN_C$CHURN_FLOW_RATE$CHURN_REFRESH_RATE in *[!0-9]*) echo "churn: DURATION, INTERVAL, CHURN_C and the rates are whole numbers" >&2; exit 2 ;; esac
[ "$DURATION" -ge 10 ] && [ "$DURATION" -le 3600 ] || { echo "churn: DURATION must be 10..3600 seconds" >&2; exit 2; }
[ "$INTERVAL" -ge 1 ] && [ "$CHURN_C" -ge 1 ] || { echo "churn: INTERVAL and CHURN_C must be at least 1" >&2; exit 2; }
case $CHURN_STORAGE in sqlite | postgres) ;; *) echo "churn: CHURN_STORAGE is sqlite or postgres" >&2; exit 2 ;; esac

WORK=$(mktemp -d)
BENCH_DB=oidcchurn_$$
. "$ROOT/bench/lib.sh"
pids=()
cleanup() {
	# the load loops' running opbench first (by parent id), then the loops and Caddy
	for p in "${pids[@]}"; do pkill -TERM -P "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	bench_cleanup
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if curl -fsS -o /dev/null --max-time 2 "$ISSUER/.well-known/openid-configuration" 2>/dev/null; then
	echo "churn: something already answers at $ISSUER" >&2
	exit 1
fi
bench_harness
(cd "$WORK/peers/loadgen" && go build -o "$WORK/opbench" .)
bench_build_caddy
line=$(storage_line "$CHURN_STORAGE")
[ "$CHURN_STORAGE" = sqlite ] || created+=("$CHURN_STORAGE")
ours_caddyfile "$CHURN_STORAGE" "$line" "admin $ADMIN" \
	"$(printf '\t\taccess_token_lifespan %s\n\t\trefresh_token_lifespan %s' \
		"${CHURN_ACCESS_LIFESPAN:-1m}" "${CHURN_REFRESH_LIFESPAN:-2m}")
" > "$WORK/Caddyfile"

OUT=$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-churn
mkdir -p "$OUT"
"$WORK/caddy" run --config "$WORK/Caddyfile" --adapter caddyfile > "$WORK/caddy.log" 2>&1 &
CADDY=$!
pids+=("$CADDY")
for _ in $(seq 1 150); do
	curl -fsS -o /dev/null --max-time 2 "$ISSUER/.well-known/openid-configuration" 2>/dev/null && break
	kill -0 "$CADDY" 2>/dev/null || break
	sleep 0.2
done
if ! curl -fsS -o /dev/null --max-time 2 "$ISSUER/.well-known/openid-configuration"; then
	echo "churn: Caddy did not start; its log:" >&2
	tail -20 "$WORK/caddy.log" >&2
	exit 1
fi

start=$(date +%s)
end=$((start + DURATION))

# load MODE RATE: opbench MODE at RATE operations per second in chunks of at most 60 s until the end; each
# chunk signs in (flow) or gets its refresh tokens (refresh) before it
# starts, outside its measured window. Exits 1 if a chunk failed.
load() {
	local rc=0 left
	while left=$((end - $(date +%s))) && [ "$left" -ge 2 ]; do
		[ "$left" -le 60 ] || left=60
		if ! OPBENCH_USER=demo OPBENCH_PASSWORD=demo GOMAXPROCS=1 "$WORK/opbench" -mode "$1" \
			-issuer "$ISSUER" -client bench -secret benchsecret -c "$CHURN_C" -d "${left}s" -warmup 0s -rate "$2" \
			>> "$OUT/load-$1.jsonl" 2>> "$WORK/load-$1.err"; then
			rc=1
			sleep 1
		fi
	done
	return "$rc"
}
load flow "$CHURN_FLOW_RATE" &
pids+=("$!")
flowpid=$!
load refresh "$CHURN_REFRESH_RATE" &
pids+=("$!")
refreshpid=$!

# sample: one CSV line.
db=$WORK/data-sqlite/oidc.db
sql() {
	if [ "$CHURN_STORAGE" = sqlite ]; then
		sqlite3 -readonly -cmd ".timeout 5000" "$db" "$1"
	else
		psql -qtA "$BENCH_PG/$BENCH_DB" -c "$1"
	fi
}
sample() {
	local rss metrics heap inuse dbb walb acc ref
	rss=$(awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$CADDY/status")
	metrics=$(curl -fsS --max-time 5 "http://$ADMIN/metrics")
	heap=$(awk '$1 == "go_memstats_heap_alloc_bytes" {printf "%.0f", $2}' <<<"$metrics")
	inuse=$(awk '$1 == "go_memstats_heap_inuse_bytes" {printf "%.0f", $2}' <<<"$metrics")
	if [ "$CHURN_STORAGE" = sqlite ]; then
		dbb=$(stat -c %s "$db")
		walb=$(stat -c %s "$db-wal" 2>/dev/null || echo 0)
	else
		dbb=$(sql "SELECT pg_database_size('$BENCH_DB')")
		walb=0
	fi
	acc=$(sql "SELECT COUNT(*) FROM oauth2_access")
	ref=$(sql "SELECT COUNT(*) FROM oauth2_refresh")
	[ -n "$rss" ] && [ -n "$heap" ] && [ -n "$inuse" ] && [ -n "$dbb" ] && [ -n "$acc" ] && [ -n "$ref" ] || return 1
	echo "$(($(date +%s) - start)),$rss,$heap,$inuse,$dbb,$walb,$acc,$ref"
}

echo "t_s,rss_bytes,heap_alloc_bytes,heap_inuse_bytes,db_bytes,wal_bytes,access_rows,refresh_rows" > "$OUT/churn.csv"
rc=0
echo "churn: $CHURN_STORAGE, ${DURATION}s, sampling every ${INTERVAL}s into ${OUT#"$ROOT"/}" >&2
while :; do
	if ! kill -0 "$CADDY" 2>/dev/null; then
		echo "churn: Caddy exited; its log:" >&2
		tail -20 "$WORK/caddy.log" >&2
		rc=1
		break
	fi
	if ! sample >> "$OUT/churn.csv"; then
		echo "churn: a sample failed at $(($(date +%s) - start)) s" >&2
		rc=1
	fi
	[ "$(date +%s)" -lt "$end" ] || break
	sleep "$INTERVAL"
done
for p in "$flowpid" "$refreshpid"; do wait "$p" || rc=1; done
for m in flow refresh; do
	if [ -s "$WORK/load-$m.err" ]; then
		echo "churn: load generator ($m):" >&2
		tail -5 "$WORK/load-$m.err" >&2
	fi
done

python3 "$ROOT/bench/churn_summary.py" "$OUT" > "$OUT/summary.md" || rc=1
cat "$OUT/summary.md"
exit "$rc"
