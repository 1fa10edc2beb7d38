#!/usr/bin/env bash
# Installs what the end-to-end tests with real client libraries and a real
# browser need (caddyoidc/apps_test.go, caddyoidc/browser_test.go):
#   Debian packages chromium, python3-authlib, python3-requests;
#   slapd and ldap-utils (internal/ldapusers/ldaptest runs a throwaway slapd);
#   the npm packages pinned in caddyoidc/testdata/clients/package-lock.json
#   (openid-client v5 and v6, playwright-core, axe-core) into its node_modules.
# Node.js >= 20 must be installed already. Idempotent: with everything in
# place it only checks and returns. test.sh runs it first.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pkg in chromium python3-authlib python3-requests slapd ldap-utils; do
	dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
	sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	echo "setup: installing ${missing[*]}" >&2
	"${sudo[@]}" apt-get update
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "setup: Node.js >= 20 with npm is required (openid-client v6 and playwright-core need it)" >&2
	exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if ((major < 20)); then
	echo "setup: Node.js >= 20 is required, found $(node --version)" >&2
	exit 1
fi

# npm ci only when the lockfile changed since the last install.
clients=caddyoidc/testdata/clients
stamp=$clients/node_modules/.setup-lock
if ! cmp -s "$clients/package-lock.json" "$stamp" 2>/dev/null; then
	echo "setup: npm ci in $clients" >&2
	(cd "$clients" && npm ci --no-audit --no-fund --loglevel=error)
	cp "$clients/package-lock.json" "$stamp"
fi
