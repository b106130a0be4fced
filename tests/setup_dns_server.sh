#!/bin/sh
# Installs Knot DNS (Debian package `knot`), the authoritative server the DNS tests and
# bench/dns.py start on 127.0.0.1 at a free port. Idempotent: returns at once when
# knotd is there. The tests run knotd themselves, as a foreground process with a config
# in a temporary folder, so the package's own service is kept from starting (and is
# stopped and disabled if it started anyway).
set -eu

PKG=knot

have_knotd() {
    command -v knotd >/dev/null 2>&1 || [ -x /usr/sbin/knotd ]
}

if have_knotd; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        exec sudo -n sh "$0" "$@"
    fi
    echo "knotd is missing and installing $PKG needs root: run" >&2
    echo "  sudo apt-get install -y --no-install-recommends $PKG" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "knotd is missing and this system has no apt-get: install Knot DNS (knotd, knotc)." >&2
    exit 1
fi

# Keep invoke-rc.d from starting the packaged service while we install (only when no
# policy is in place already; ours is removed again on exit).
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$POLICY"
    chmod 755 "$POLICY"
    OWN_POLICY=1
fi
cleanup() {
    if [ -n "$OWN_POLICY" ]; then rm -f "$POLICY"; fi
}
trap cleanup EXIT INT TERM

echo "Installing $PKG (the DNS server the tests start on 127.0.0.1)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$PKG" >/dev/null

# Under systemd the unit may still be enabled or running: the tests need neither.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now knot.service >/dev/null 2>&1 || true
fi

have_knotd || { echo "$PKG installed but knotd is not found." >&2; exit 1; }
