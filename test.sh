#!/usr/bin/env bash
# Runs every test of caddy-oidc. This is the README's test command and what
# CI runs (.ci/run). It needs only Go; the build tag is required (see README).
set -euo pipefail
cd "$(dirname "$0")"
export GOFLAGS="${GOFLAGS:-} -tags=nobadger"
go vet ./...
go test -count=1 -timeout 30m ./...
