#!/usr/bin/env bash
# Installs what the extension-host and e2e tiers need, offline from GitHub: Debian chromium,
# libkrb5-dev and ripgrep (apt, when missing) and code-server (a real VS Code, web workbench and
# Node extension host) from npm into .vscode-test/code-server-$VERSION. Idempotent: a finished
# install is reused. See ../shared/notes/environment.md for why each step is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${CODE_SERVER_VERSION:-4.100.3}"
# @vscode/ripgrep version pinned by this code-server's lib/vscode/npm-shrinkwrap.json, and its archive name.
RIPGREP_PKG_VERSION=1.15.11
RIPGREP_ARCHIVE=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz
DEST="$PWD/.vscode-test/code-server-$VERSION"
BIN="$DEST/node_modules/.bin/code-server"

if [ -x "$BIN" ] && [ -f "$DEST/.installed" ]; then
  echo "code-server $VERSION already installed in $DEST"
  exit 0
fi

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v rg >/dev/null 2>&1 || missing+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
command -v g++ >/dev/null 2>&1 || missing+=(build-essential)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# @vscode/ripgrep's postinstall downloads ripgrep from GitHub unless this cached archive exists;
# Debian's rg is the same upstream version (13.0.0).
cache="$(node -p 'require("os").tmpdir()')/vscode-ripgrep-cache-$RIPGREP_PKG_VERSION"
if [ ! -f "$cache/$RIPGREP_ARCHIVE" ]; then
  mkdir -p "$cache"
  tmp="$(mktemp -d)"
  cp "$(command -v rg)" "$tmp/rg"
  tar -C "$tmp" -czf "$cache/$RIPGREP_ARCHIVE" rg
  rm -rf "$tmp"
fi

mkdir -p "$DEST"
cd "$DEST"
[ -f package.json ] || echo '{ "name": "code-server-for-tests", "private": true }' > package.json
echo "Installing code-server@$VERSION into $DEST (2–4 minutes)…"
start=$(date +%s)
# yes: node-pty's postinstall runs npx node-gyp; build_from_source: argon2 would fetch a GitHub
# prebuilt; unsafe_perm: code-server's postinstall refuses root without it (npm 11 reads it only
# from the environment); nodedir: native modules build against the local Node headers.
npm_config_yes=true \
npm_config_build_from_source=true \
npm_config_unsafe_perm=true \
npm_config_nodedir="${npm_config_nodedir:-/usr}" \
npm_config_audit=false \
npm_config_fund=false \
  npm install --loglevel=error "code-server@$VERSION"
test -x "$BIN"
touch .installed
echo "code-server $VERSION installed in $(( $(date +%s) - start )) s"
