#!/bin/sh
# Installs Chromium (Debian package `chromium`), the headless browser that
# tests/test_report_browser.py drives to check report.html as a person would see it.
# Idempotent: returns at once when /usr/bin/chromium is there. Playwright only drives
# this browser (`executable_path`); `playwright install` downloads its own build, which
# this machine cannot fetch, so it is never used.
set -eu

PKG=chromium
BIN=/usr/bin/chromium

if [ -x "$BIN" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        exec sudo -n sh "$0" "$@"
    fi
    echo "$BIN is missing and installing $PKG needs root: run" >&2
    echo "  sudo apt-get install -y --no-install-recommends $PKG fonts-dejavu-core" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "$BIN is missing and this system has no apt-get: install Chromium at $BIN." >&2
    exit 1
fi

echo "Installing $PKG (the headless browser the report test drives)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# fonts-dejavu-core: a font for the page's text, so screenshots are not empty boxes.
apt-get install -y -qq --no-install-recommends "$PKG" fonts-dejavu-core >/dev/null

[ -x "$BIN" ] || { echo "$PKG installed but $BIN is not found." >&2; exit 1; }
