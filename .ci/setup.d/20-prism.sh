#!/usr/bin/env bash
# Prism mock servers for the provider contract tests (Twilio, SendGrid). Installs the version
# pinned in .ci/node/package-lock.json into .ci/node/node_modules (gitignored); tests/prism.py
# starts one server per spec on loopback. Idempotent: does nothing when that version is there.
set -euo pipefail
cd "$(dirname "$0")/../node"
want="$(node -p "require('./package-lock.json').packages['node_modules/@stoplight/prism-cli'].version")"
have="$(node -p "try { require('./node_modules/@stoplight/prism-cli/package.json').version } catch (e) { '' }")"
if [ -x node_modules/.bin/prism ] && [ "$want" = "$have" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-cache show npm >/dev/null 2>&1; then
    apt-get update -qq
  fi
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
# --ignore-scripts: Prism needs no install scripts, and one dependency's only phones home.
SCARF_ANALYTICS=false npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
node_modules/.bin/prism --version
