#!/usr/bin/env bash
# Runs every test of caddy-oidc. This is the README's test command and what
# CI runs (.ci/run). It needs Go and Node.js >= 20; .ci/setup.sh installs the
# rest (Debian's chromium and python3-authlib, the pinned npm clients) the
# end-to-end tests with real client libraries use. The build tag is required
# (see README). After the tests, .ci/checks.sh checks that go.mod is tidy,
# lints, runs the engine's tests under the race detector, fuzzes every Fuzz
# target for a few seconds and looks for known vulnerabilities.
set -euo pipefail
# The browser tests write their screenshots to $ARTIFACTS_DIR (default
# caddyoidc/testdata/artifacts); go test runs each package in its own
# directory, so a relative path is made absolute here, from where the caller
# stands.
if [ -n "${ARTIFACTS_DIR:-}" ]; then
	mkdir -p "$ARTIFACTS_DIR"
	ARTIFACTS_DIR="$(cd "$ARTIFACTS_DIR" && pwd)"
	export ARTIFACTS_DIR
fi
cd "$(dirname "$0")"
.ci/setup.sh
export GOFLAGS="${GOFLAGS:-} -tags=nobadger"
# Build with the toolchain go.mod names (toolchain go1.26.10, for the
# standard library's security fixes), even where go.env or `go env -w` say
# GOTOOLCHAIN=local; a GOTOOLCHAIN in the environment still wins.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
go vet ./...
go test -count=1 -timeout 30m ./...
.ci/checks.sh
