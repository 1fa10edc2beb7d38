#!/usr/bin/env bash
# instructions.sh: instructions per operation of a Go benchmark of the
# provider's handler paths, counted by valgrind's callgrind. On this 2-core VM
# CPU time per request moves by a quarter between runs of the same build, so a
# change of a few percent cannot be measured in time; an instruction count can.
#
#   bench/instructions.sh [BENCH [N1 N2]]    # default: Refresh/ES256 100 400
#   GOGC=100 bench/instructions.sh ...       # with the garbage collector
#   PKG=./internal/store bench/instructions.sh AccessToken
#   BIN=/tmp/old.test bench/instructions.sh  # a test binary built earlier
#
# It runs the benchmark twice, for N1 and N2 iterations, and prints
# (Ir(N2) - Ir(N1)) / (N2 - N1): what the setup costs cancels out. The whole
# process is counted (the benchmark's own client side too), on one P
# (GOMAXPROCS=1), by default without garbage collection (GOGC=off): the
# collector's share depends on when its cycles fall, and moves the count by
# about 5%, where without it two runs agree within 0.5%. Compare the bytes
# and allocations per operation (go test -benchmem) for what the collector
# will have to do. Signing keys are made once in $KEYS and reused: an RSA key
# costs a varying number of instructions to generate. Instructions in the
# kernel (system calls: SQLite's reads and writes) are not counted.
#
# Needs valgrind (apt-get install valgrind). Go's runtime reads the time
# stamp counter with RDTSCP, which valgrind 3.19 does not emulate:
# GODEBUG=cpu.rdtscp=off turns that off.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:--tags=nobadger}" GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"

bench=${1:-Refresh/ES256} n1=${2:-100} n2=${3:-400}
pkg=${PKG:-./internal/provider}
keys=${KEYS:-${TMPDIR:-/tmp}/caddy-oidc-bench-keys}
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
((n2 > n1)) || { echo "instructions.sh: N2 ($n2) must exceed N1 ($n1)" >&2; exit 1; }

bin=${BIN:-}
if [[ -z $bin ]]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	bin=$tmp/bench.test
	go test -c -o "$bin" "$pkg"
fi
mkdir -p "$keys"
# The first run makes the keys, outside the count.
OIDC_BENCH_KEYS=$keys "$bin" -test.run='^$' -test.bench="$bench" -test.benchtime=1x >/dev/null

# count N prints the instructions of one run of N iterations.
count() {
	local out
	out=$(OIDC_BENCH_KEYS=$keys GOMAXPROCS=1 GOGC=${GOGC:-off} GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off \
		valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		"$bin" -test.run='^$' -test.bench="$bench" -test.benchtime="${1}x" 2>&1) ||
		{ echo "$out" | tail -20 >&2; return 1; }
	grep -q '^ok\|^PASS' <<<"$out" || { echo "$out" | tail -20 >&2; return 1; }
	awk '/Collected :/ {print $4}' <<<"$out"
}
a=$(count "$n1")
b=$(count "$n2")
echo "$bench: $(((b - a) / (n2 - n1))) instructions/op (GOGC=${GOGC:-off}; $n1 iterations: $a, $n2: $b)"
