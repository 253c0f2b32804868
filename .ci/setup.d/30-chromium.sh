#!/usr/bin/env bash
# Headless Chromium for the browser tests (tests/browser.py): Debian's chromium, driven by
# Playwright for Python (in the venv, from requirements.lock) through executable_path. Never
# `playwright install`: it downloads a browser build, which these machines cannot fetch.
# Idempotent: does nothing when chromium and a Devanagari font (Hindi templates in the editor's
# screenshots) are there.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi devanagari; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show chromium >/dev/null 2>&1; then
  apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core fonts-lohit-deva >/dev/null
command -v chromium >/dev/null
