#!/bin/sh
# Debian's chromium for the browser tests (tests/e2e/test_console_browser.py) and the console's
# screenshots and benchmark (bench/console_*.py). `make test` and `make run`'s users never download a
# browser build: Playwright for Python (requirements.lock) drives this binary through
# executable_path, and `playwright install` is never run.
# Idempotent and quiet: nothing happens when the binary is there.
set -eu

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0

fail() {
    echo "error: cannot install Debian's chromium ($CHROMIUM is missing), needed by the browser tests: $*" >&2
    echo "       install it by hand: apt-get update && apt-get install -y --no-install-recommends chromium" >&2
    exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "no apt-get on this machine (not Debian?)"
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        fail "not root and no password-less sudo"
    fi
fi

LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
echo "installing Debian's chromium for the browser tests (apt-get, once) ..."
# Straight away when the package lists are fresh enough; else after an update.
if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
        >"$LOG" 2>&1; then
    $SUDO apt-get update -qq >"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; fail "apt-get update failed"; }
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
        >"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; fail "apt-get install chromium failed"; }
fi
[ -x "$CHROMIUM" ] || fail "apt-get installed chromium but $CHROMIUM is not there"
echo "$("$CHROMIUM" --version 2>/dev/null | head -n 1) installed"
