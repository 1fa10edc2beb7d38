#!/usr/bin/env bash
# bench/run.sh: measures caddy-oidc beside its peers with the shared load
# harness (../shared/peers: Caddy's own static responses, node oidc-provider,
# zitadel/oidc), on loopback only, each run bounded by DUR seconds.
#
#   bench/run.sh                          # peers caddy-respond node zitadel ours
#   DUR=5 CONCS=16 SCENARIOS="disc jwks" bench/run.sh
#   BENCH_ID_TOKEN_ALG=ES256 PEERS=ours SCENARIOS="flow refresh" bench/run.sh
#   BENCH_STORAGE=postgres PEERS=ours bench/run.sh   # or mysql
#
# BENCH_STORAGE chooses our storage: sqlite (default), postgres (a fresh
# database on the PostgreSQL server at BENCH_PG, default
# postgres://postgres@127.0.0.1:5432) or mysql (on BENCH_MYSQL, default
# root@tcp(127.0.0.1:3306)); the database is dropped at the end.
#
# Our client "bench" gets BENCH_GRANT_TYPES (default authorization_code
# refresh_token client_credentials) and signs ID tokens with
# BENCH_ID_TOKEN_ALG (default RS256, as the peers do).
#
# It copies the harness to a temporary directory, patches its flow load
# generator (opbench) to sign in once per worker through our login form and
# to allow on the consent form (bench/opbench-forms.patch: the peers finish
# flows with redirects alone, we have real forms), builds Caddy with this
# plugin, and runs the harness with our provider as the peer "ours".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PEERS_SRC=${PEERS_SRC:-$ROOT/../shared/peers}
[ -d "$PEERS_SRC" ] || { echo "bench: no harness at $PEERS_SRC (set PEERS_SRC)" >&2; exit 1; }
WORK=$(mktemp -d)
BENCH_STORAGE=${BENCH_STORAGE:-sqlite}
BENCH_DB=oidcbench_$$
cleanup() {
	rm -rf "$WORK/data"
	case $BENCH_STORAGE in
	postgres) psql -q "${BENCH_PG:-postgres://postgres@127.0.0.1:5432}/postgres" -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" || true ;;
	mysql) mariadb -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS $BENCH_DB" || true ;;
	esac
}
trap cleanup EXIT
case $BENCH_STORAGE in
sqlite) STORAGE_LINE="storage sqlite $WORK/data/oidc.db" ;;
postgres)
	psql -q "${BENCH_PG:-postgres://postgres@127.0.0.1:5432}/postgres" -c "CREATE DATABASE $BENCH_DB"
	STORAGE_LINE="storage postgres ${BENCH_PG:-postgres://postgres@127.0.0.1:5432}/$BENCH_DB?sslmode=disable"
	;;
mysql)
	mariadb -h 127.0.0.1 -u root -e "CREATE DATABASE $BENCH_DB CHARACTER SET utf8mb4"
	STORAGE_LINE="storage mysql ${BENCH_MYSQL:-root@tcp(127.0.0.1:3306)}/$BENCH_DB"
	;;
*) echo "bench: BENCH_STORAGE must be sqlite, postgres or mysql" >&2; exit 1 ;;
esac
cp -r "$PEERS_SRC" "$WORK/peers"
chmod -R u+w "$WORK/peers"
patch -s -d "$WORK/peers/loadgen" -p1 < "$ROOT/bench/opbench-forms.patch"

GOFLAGS="${GOFLAGS:-} -tags=nobadger" go build -o "$WORK/caddy" ./examples/caddy
cp examples/quickstart/users.yml "$WORK/users.yml" # user demo, password demo
cat > "$WORK/Caddyfile" <<CADDY
{
	admin off
	auto_https off
	persist_config off
	storage file_system $WORK/data
	log {
		output discard
	}
}
http://127.0.0.1:9103 {
	oidc_provider http://127.0.0.1:9103 {
		users_file $WORK/users.yml
		$STORAGE_LINE
		client bench {
			client_secret benchsecret
			redirect_uris http://127.0.0.1:9/cb
			scopes openid profile email offline_access ${BENCH_CC_SCOPE:-}
			grant_types ${BENCH_GRANT_TYPES:-authorization_code refresh_token client_credentials}
			id_token_signed_response_alg ${BENCH_ID_TOKEN_ALG:-RS256}
			consent_mode implicit
		}
	}
}
CADDY

export OURS_ISSUER=http://127.0.0.1:9103
export OURS_START="$WORK/caddy run --config $WORK/Caddyfile"
export OURS_CLIENT_ID=bench OURS_CLIENT_SECRET=benchsecret
export OPBENCH_USER=demo OPBENCH_PASSWORD=demo
export PEERS=${PEERS:-"caddy-respond node zitadel ours"}
echo "bench: harness in $WORK/peers; report follows" >&2
"$WORK/peers/run.sh"
