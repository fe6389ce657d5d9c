#!/usr/bin/env bash
# System packages the test suite needs beyond `pip install -e '.[test]'`:
# Debian's Chromium for the dashboard's browser test (tests/test_dashboard_browser.py,
# driven by Playwright with executable_path=/usr/bin/chromium; no browser is downloaded).
#
# Idempotent and always exits 0: when Chromium is present it does nothing; when it is
# missing it installs it with apt-get if we are root, else prints a note (the browser
# test then skips cleanly). Run it before the README's test command (.ci/run does).
set -u

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"  # override only to test this script

if [ -x "$CHROMIUM" ]; then
    echo "test-deps: $CHROMIUM present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "test-deps: $CHROMIUM is missing and we are not root; the browser test will be skipped" \
        "(install it with: sudo apt-get install -y chromium)"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "test-deps: $CHROMIUM is missing and there is no apt-get; the browser test will be skipped"
    exit 0
fi

echo "test-deps: installing Debian's chromium (and fonts for readable screenshots)"
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-liberation; then
    echo "test-deps: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
else
    echo "test-deps: apt-get failed; the browser test will be skipped"
fi
exit 0
