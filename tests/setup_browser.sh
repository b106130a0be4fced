#!/bin/sh
# Installs Chromium (Debian package `chromium`), the headless browser that
# tests/test_report_browser.py drives to check report.html as a person would see it.
# Playwright only drives this browser (`executable_path`); `playwright install`
# downloads its own build, which this machine cannot fetch, so it is never used.
# fonts-dejavu-core: a font for the page's text, so screenshots are not empty boxes.
set -eu
exec sh "$(dirname "$0")/apt_install.sh" "Chromium (/usr/bin/chromium)" \
    "[ -x /usr/bin/chromium ]" chromium fonts-dejavu-core
