#!/bin/sh
# apt_install.sh WHAT CHECK PACKAGE...: installs Debian PACKAGEs unless the shell test
# CHECK already succeeds (idempotent: returns at once then). WHAT names the tool in
# messages. Re-runs itself through `sudo -n` when not root; says what to run when it
# cannot. Shared by the setup_*.sh scripts of the tests.
set -eu

WHAT=$1
CHECK=$2
shift 2

if sh -c "$CHECK"; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        exec sudo -n sh "$0" "$WHAT" "$CHECK" "$@"
    fi
    echo "$WHAT is missing and installing it needs root: run" >&2
    echo "  sudo apt-get install -y --no-install-recommends $*" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "$WHAT is missing and this system has no apt-get: install $* by hand." >&2
    exit 1
fi

echo "Installing $* ($WHAT)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$@" >/dev/null

sh -c "$CHECK" || { echo "$* installed but $WHAT is still not found." >&2; exit 1; }
