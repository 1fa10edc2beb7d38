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
# It copies the harness to a temporary directory, patches its flow load
# generator (opbench) to sign in once per worker through our login form
# (during setup, outside the measured window), to allow on the consent form,
# to measure sign-ins (mode signin) and to check ID token algorithms
# (bench/opbench-forms.patch: the peers finish flows with redirects alone, we
# have real forms), its runner to know "ours-<storage>" peers
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
[ -d "$PEERS_SRC" ] || { echo "bench: no harness at $PEERS_SRC (set PEERS_SRC)" >&2; exit 1; }
WORK=$(mktemp -d)
BENCH_STORAGES=${BENCH_STORAGES:-"sqlite postgres"}
BENCH_PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
BENCH_MYSQL=${BENCH_MYSQL:-root@tcp(127.0.0.1:3306)}
BENCH_DB=oidcbench_$$
created=()
cleanup() {
	rm -rf "$WORK"/data-*
	for s in "${created[@]}"; do
		case $s in
		postgres) psql -q "$BENCH_PG/postgres" -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" || true ;;
		mysql) mariadb -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS $BENCH_DB" || true ;;
		esac
	done
}
trap cleanup EXIT

cp -r "$PEERS_SRC" "$WORK/peers"
chmod -R u+w "$WORK/peers"
patch -s -d "$WORK/peers/loadgen" -p1 < "$ROOT/bench/opbench-forms.patch"
patch -s -d "$WORK/peers" -p1 < "$ROOT/bench/run-storages.patch"
patch -s -d "$WORK/peers" -p1 < "$ROOT/bench/run-scenarios.patch"
patch -s -d "$WORK/peers" -p1 < "$ROOT/bench/node-es256.patch"

GOFLAGS="${GOFLAGS:-} -tags=nobadger" GOTOOLCHAIN=${GOTOOLCHAIN:-auto} go build -o "$WORK/caddy" ./examples/caddy
cp examples/quickstart/users.yml "$WORK/users.yml" # user demo, password demo

# storage_line NAME: the storage subdirective for NAME, creating its database.
storage_line() {
	case $1 in
	sqlite) echo "storage sqlite $WORK/data-sqlite/oidc.db" ;;
	postgres)
		psql -q "$BENCH_PG/postgres" -c "CREATE DATABASE $BENCH_DB" >&2
		echo "storage postgres $BENCH_PG/$BENCH_DB?sslmode=disable"
		;;
	mysql)
		mariadb -h 127.0.0.1 -u root -e "CREATE DATABASE $BENCH_DB CHARACTER SET utf8mb4" >&2
		echo "storage mysql $BENCH_MYSQL/$BENCH_DB"
		;;
	*) echo "bench: unknown storage $1 (sqlite, postgres, mysql)" >&2; return 1 ;;
	esac
}

first=""
ours_peers=""
for s in $BENCH_STORAGES; do
	line=$(storage_line "$s")
	[ "$s" = sqlite ] || created+=("$s")
	cat > "$WORK/Caddyfile.$s" <<CADDY
{
	admin off
	auto_https off
	persist_config off
	storage file_system $WORK/data-$s
	log {
		output discard
	}
}
http://127.0.0.1:9103 {
	oidc_provider http://127.0.0.1:9103 {
		users_file $WORK/users.yml
		$line
		client bench {
			client_secret benchsecret
			redirect_uris http://127.0.0.1:9/cb
			scopes openid profile email offline_access ${BENCH_CC_SCOPE:-}
			grant_types ${BENCH_GRANT_TYPES:-authorization_code refresh_token client_credentials}
			id_token_signed_response_alg ${BENCH_ID_TOKEN_ALG:-RS256}
			consent_mode implicit
		}
		client bench-es256 {
			client_secret benchsecret
			redirect_uris http://127.0.0.1:9/cb
			scopes openid profile email offline_access
			grant_types authorization_code refresh_token
			id_token_signed_response_alg ES256
			consent_mode implicit
		}
	}
}
CADDY
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
