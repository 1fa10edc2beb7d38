#!/usr/bin/env bash
# bench/run.sh: measures caddy-oidc beside its peers with the shared load
# harness (../shared/peers: Caddy's own static responses, node oidc-provider,
# zitadel/oidc), on loopback only, each run bounded by DUR seconds.
#
#   bench/run.sh          # peers caddy-respond node zitadel ours ours-postgres
#   DUR=5 CONCS=16 SCENARIOS="disc jwks" bench/run.sh
#   PEERS="node ours" SCENARIOS="flow-es256 refresh-es256 signin" bench/run.sh
#   BENCH_STORAGES="sqlite postgres mysql" bench/run.sh
#
# BENCH_STORAGES lists our storages (default "sqlite postgres"): the first is
# the peer "ours", each other one the peer "ours-<storage>", all in the same
# run. postgres gets a fresh database on the server at BENCH_PG (default
# postgres://postgres@127.0.0.1:5432), mysql one on BENCH_MYSQL (default
# root@tcp(127.0.0.1:3306)); they are dropped at the end.
#
# SCENARIOS defaults to the harness's five (disc jwks cc flow refresh) plus
# flow-es256 and refresh-es256 (ours and node; a second client whose ID
# tokens are ES256) and signin (ours only: sign-ins through the login form
# per server CPU-second, the demo user's argon2id digest).
#
# Our client "bench" gets BENCH_GRANT_TYPES (default authorization_code
# refresh_token client_credentials) and signs ID tokens with
# BENCH_ID_TOKEN_ALG (default RS256, as the peers do); "bench-es256" is the
# same client for the code flow and refresh, with ES256 ID tokens.
#
# It copies the harness to a temporary directory (bench/lib.sh, shared with
# bench/churn.sh), patches its flow load generator (opbench) to sign in
# once per worker through our login form
# (during setup, outside the measured window), to allow on the consent form,
# to measure sign-ins (mode signin) and to check ID token algorithms
# (bench/opbench-forms.patch: the peers finish flows with redirects alone, we
# have real forms; bench/opbench-pace.patch: -rate, a steady pace, which
# bench/churn.sh uses and run.sh does not), its runner to know "ours-<storage>" peers
# (bench/run-storages.patch) and the scenarios signin, flow-es256 and
# refresh-es256 (bench/run-scenarios.patch), and node oidc-provider to have
# the ES256 client (bench/node-es256.patch), builds Caddy with this
# plugin, and runs the harness. It keeps the run's report.md and
# results.jsonl in bench/results/<UTC stamp>/, with plot.svg, a chart of
# requests per server CPU-second per scenario and peer (bench/plot.py).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PEERS_SRC=${PEERS_SRC:-$ROOT/../shared/peers}
WORK=$(mktemp -d)
BENCH_STORAGES=${BENCH_STORAGES:-"sqlite postgres"}
BENCH_DB=oidcbench_$$
. "$ROOT/bench/lib.sh"
trap bench_cleanup EXIT

bench_harness
bench_build_caddy

first=""
ours_peers=""
for s in $BENCH_STORAGES; do
	line=$(storage_line "$s")
	[ "$s" = sqlite ] || created+=("$s")
	ours_caddyfile "$s" "$line" "admin off" "" > "$WORK/Caddyfile.$s"
	start="$WORK/caddy run --config $WORK/Caddyfile.$s --adapter caddyfile"
	if [ -z "$first" ]; then
		first=$s
		export OURS_START="$start"
		ours_peers="ours"
	else
		export "OURS_START_$s=$start"
		ours_peers="$ours_peers ours-$s"
	fi
done

export OURS_ISSUER=http://127.0.0.1:9103
export OURS_CLIENT_ID=bench OURS_CLIENT_SECRET=benchsecret OURS_CLIENT_ID_ES256=bench-es256
export SCENARIOS=${SCENARIOS:-"disc jwks cc flow refresh flow-es256 refresh-es256 signin"}
export OPBENCH_USER=demo OPBENCH_PASSWORD=demo
export PEERS=${PEERS:-"caddy-respond node zitadel $ours_peers"}
echo "bench: harness in $WORK/peers; ours = $first storage; report follows" >&2
rc=0
"$WORK/peers/run.sh" || rc=$?

# Keep the run: its report, raw results and a chart (bench/plot.py) in
# bench/results/<the harness's UTC stamp>/.
raw=$(ls -d "$WORK"/peers/results-raw/*/ 2>/dev/null | sort | tail -1)
if [ -n "$raw" ] && [ -s "$raw/results.jsonl" ]; then
	out="$ROOT/bench/results/$(basename "$raw")"
	mkdir -p "$out"
	cp "$raw/results.jsonl" "$out/"
	[ -f "$raw/report.md" ] && cp "$raw/report.md" "$out/"
	if python3 "$ROOT/bench/plot.py" "$out/results.jsonl" "$out/plot.svg"; then
		echo "bench: results and chart in ${out#"$ROOT"/}" >&2
	else
		echo "bench: results in ${out#"$ROOT"/} (no chart)" >&2
	fi
else
	echo "bench: the harness left no results" >&2
fi
exit "$rc"
