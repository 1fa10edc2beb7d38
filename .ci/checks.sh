#!/usr/bin/env bash
# The checks test.sh runs after the tests:
#   tidy  go.mod and go.sum are what `go mod tidy` makes them
#   lint  golangci-lint with .golangci.yml
#   race  the engine's tests (./internal/...) under the race detector
#   fuzz  every Fuzz target for FUZZTIME (default 5s) each
#   bench the engine's endpoint benchmarks, BENCHTIME (default 20x) each,
#         so that they keep running (a smoke run, not a measurement)
#   vuln  govulncheck against a local copy of the Go vulnerability database
# Usage: .ci/checks.sh [step...]   (no step: all, in that order)
#
# Every step runs even when an earlier one fails; the script fails at the
# end, naming the steps that failed. Tools are pinned and built once into a
# cache outside the repository ($CADDY_OIDC_CI_CACHE, by default
# ~/.cache/caddy-oidc-ci), as is the vulnerability database (built from the
# pinned golang.org/x/vulndb module: govulncheck's own server is not
# reachable from CI).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:-} -tags=nobadger"
# Build with the toolchain go.mod names (toolchain go1.26.10, for the
# standard library's security fixes), even where go.env or `go env -w` say
# GOTOOLCHAIN=local; a GOTOOLCHAIN in the environment still wins.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"

GOLANGCI_LINT_VERSION=v2.15.0
GOVULNCHECK_VERSION=v1.9.0
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018
FUZZTIME=${FUZZTIME:-5s}
BENCHTIME=${BENCHTIME:-20x}
cache=${CADDY_OIDC_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/caddy-oidc-ci}

# tool NAME PACKAGE VERSION: prints the path of the binary, installing it
# into the cache first if needed.
tool() {
	local dir="$cache/tools/$1@$3"
	if [ ! -x "$dir/$1" ]; then
		echo "checks: installing $2@$3" >&2
		GOBIN="$dir" GOFLAGS= go install "$2@$3" >&2 || return 1
	fi
	echo "$dir/$1"
}

step_tidy() {
	go mod tidy -diff
}

step_lint() {
	local lint
	lint=$(tool golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint "$GOLANGCI_LINT_VERSION") || return 1
	"$lint" run ./...
}

step_race() {
	go test -race -count=1 -timeout 30m ./internal/...
}

step_fuzz() {
	local file dir name failed=0
	while read -r file; do
		dir=$(dirname "$file")
		for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
			fuzz_one "$name" "$dir" || failed=1
		done
	done < <(git ls-files -co --exclude-standard '*_test.go' | xargs -r grep -l '^func Fuzz' | sort)
	return "$failed"
}

# fuzz_one NAME DIR fuzzes one target. Go 1.26's fuzzing coordinator can end
# a run at its -fuzztime deadline with a bare "context deadline exceeded"
# and no failing input, when a worker is slow to stop on a busy machine
# (golang/go#75804, fixed in Go 1.27); such a run is tried once more. A run
# that wrote a failing input (testdata/fuzz/NAME), or failed otherwise,
# fails.
fuzz_one() {
	local name=$1 dir=$2 out before try
	out=$(mktemp)
	for try in 1 2; do
		before=$(ls "$dir/testdata/fuzz/$name" 2>/dev/null | wc -l)
		echo "checks: fuzz $name in ./$dir for $FUZZTIME" >&2
		if go test -run='^$' -fuzz="^$name\$" -fuzztime="$FUZZTIME" "./$dir" 2>&1 | tee "$out"; then
			rm -f "$out"
			return 0
		fi
		if [ "$try" = 1 ] && grep -qx '    context deadline exceeded' "$out" &&
			[ "$(ls "$dir/testdata/fuzz/$name" 2>/dev/null | wc -l)" = "$before" ]; then
			echo "checks: fuzz $name: the coordinator's deadline race (golang/go#75804), no failing input; once more" >&2
			continue
		fi
		break
	done
	rm -f "$out"
	return 1
}

step_bench() {
	go test -run='^$' -bench=. -benchtime="$BENCHTIME" ./internal/provider/
}

# The steps run in an if, where set -e does not apply: each one returns
# its own failures.
step_vuln() {
	local db="$cache/vulndb/$VULNDB_VERSION" vulncheck
	if [ ! -f "$db/index/db.json" ]; then
		build_vulndb "$db" || return 1
	fi
	vulncheck=$(tool govulncheck golang.org/x/vuln/cmd/govulncheck "$GOVULNCHECK_VERSION") || return 1
	"$vulncheck" -db "file://$db" -tags nobadger ./...
}

# build_vulndb DIR: indexes the OSV records of the pinned vulndb module into
# DIR, in a v1 database as govulncheck -db file://DIR reads it.
build_vulndb() {
	local src indexdb tmp
	echo "checks: building the vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION" >&2
	src=$(cd "$cache" && GOFLAGS= go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || return 1
	[ -d "$src/data/osv" ] || { echo "checks: no data/osv in '$src'" >&2; return 1; }
	indexdb=$(tool indexdb golang.org/x/vulndb/cmd/indexdb "$VULNDB_VERSION") || return 1
	mkdir -p "$(dirname "$1")" && tmp=$(mktemp -d "$(dirname "$1")/.tmp.XXXXXX") || return 1
	"$indexdb" -vulns "$src/data/osv" -out "$tmp/db" && mv "$tmp/db" "$1" && rmdir "$tmp"
}

mkdir -p "$cache"
steps=("$@")
((${#steps[@]})) || steps=(tidy lint race fuzz bench vuln)
failed=()
for s in "${steps[@]}"; do
	if ! declare -F "step_$s" >/dev/null; then
		echo "checks: unknown step $s (tidy lint race fuzz bench vuln)" >&2
		exit 2
	fi
	echo "checks: == $s" >&2
	start=$SECONDS
	if "step_$s"; then
		echo "checks: $s passed in $((SECONDS - start))s" >&2
	else
		echo "checks: $s FAILED after $((SECONDS - start))s" >&2
		failed+=("$s")
	fi
done
if ((${#failed[@]})); then
	echo "checks: failed: ${failed[*]}" >&2
	exit 1
fi
