# bench/lib.sh: what bench/run.sh and bench/churn.sh share; sourced, with
# ROOT (the repository), WORK (a temporary directory) and BENCH_DB set.
#
# BENCH_PG (default postgres://postgres@127.0.0.1:5432) and BENCH_MYSQL
# (default root@tcp(127.0.0.1:3306)) are the database servers; a database
# BENCH_DB is created there on demand and dropped by bench_cleanup.

BENCH_PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
BENCH_MYSQL=${BENCH_MYSQL:-root@tcp(127.0.0.1:3306)}
created=()

# bench_cleanup drops the databases storage_line created and removes the
# storages' data directories.
bench_cleanup() {
	rm -rf "$WORK"/data-*
	for s in "${created[@]}"; do
		case $s in
		postgres) psql -q "$BENCH_PG/postgres" -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" || true ;;
		mysql) mariadb -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS $BENCH_DB" || true ;;
		esac
	done
}

# bench_harness copies the harness PEERS_SRC to $WORK/peers and applies our
# patches (see the header of bench/run.sh).
bench_harness() {
	[ -d "$PEERS_SRC" ] || { echo "bench: no harness at $PEERS_SRC (set PEERS_SRC)" >&2; return 1; }
	cp -r "$PEERS_SRC" "$WORK/peers"
	chmod -R u+w "$WORK/peers"
	patch -s -d "$WORK/peers/loadgen" -p1 < "$ROOT/bench/opbench-forms.patch"
	patch -s -d "$WORK/peers/loadgen" -p1 < "$ROOT/bench/opbench-pace.patch"
	for p in run-storages run-scenarios node-es256; do
		patch -s -d "$WORK/peers" -p1 < "$ROOT/bench/$p.patch"
	done
}

# bench_build_caddy builds Caddy with this plugin into $WORK/caddy and puts
# the quickstart's users (user demo, password demo) in $WORK/users.yml.
bench_build_caddy() {
	GOFLAGS="${GOFLAGS:-} -tags=nobadger" GOTOOLCHAIN=${GOTOOLCHAIN:-auto} go build -o "$WORK/caddy" ./examples/caddy
	cp examples/quickstart/users.yml "$WORK/users.yml"
}

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

# ours_caddyfile NAME STORAGE_LINE ADMIN EXTRA: our Caddyfile on
# 127.0.0.1:9103 for the storage NAME: global option ADMIN ("admin off" or
# "admin 127.0.0.1:PORT"), EXTRA (lines, each ending in a newline) added to
# oidc_provider; the clients "bench" (RS256 ID tokens unless
# BENCH_ID_TOKEN_ALG says otherwise, BENCH_GRANT_TYPES, BENCH_CC_SCOPE) and
# "bench-es256" (ES256 ID tokens), consent implicit.
ours_caddyfile() {
	cat <<CADDY
{
	$3
	auto_https off
	persist_config off
	storage file_system $WORK/data-$1
	log {
		output discard
	}
}
http://127.0.0.1:9103 {
	oidc_provider http://127.0.0.1:9103 {
		users_file $WORK/users.yml
		$2
$4		client bench {
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
}
