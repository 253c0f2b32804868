#!/usr/bin/env bash
# Dovecot IMAP for the inbox tests. The package starts no service: tests/dovecot.py runs a
# private instance per test session on loopback. Idempotent: does nothing when already there.
set -euo pipefail
if command -v dovecot >/dev/null 2>&1 && [ -x /usr/lib/dovecot/imap ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show dovecot-imapd >/dev/null 2>&1; then
  apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends dovecot-imapd openssl >/dev/null
command -v dovecot >/dev/null
