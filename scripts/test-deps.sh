#!/usr/bin/env bash
# System packages the test suite needs beyond `pip install -e '.[test]'`:
# - Debian's Chromium for the dashboard's browser test (tests/test_dashboard_browser.py,
#   driven by Playwright with executable_path=/usr/bin/chromium; no browser is downloaded);
# - a Java 17 runtime (Debian's openjdk-17-jre-headless) for the Spark engine's test
#   (tests/test_engine.py, pyspark in local mode).
#
# Idempotent and always exits 0: what is present is left alone; what is missing is
# installed with apt-get if we are root, else a note is printed (the test that needs it
# then skips cleanly). Run it before the README's test command (.ci/run does).
set -u

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"  # override only to test this script
JAVA="${JAVA_PATH:-java}"                       # likewise

# install PACKAGES... with apt-get when we can; $1 names what it is for in the notes
apt_install() {
    local what="$1"
    shift
    if [ "$(id -u)" -ne 0 ]; then
        echo "test-deps: $what is missing and we are not root; its test will be skipped" \
            "(install it with: sudo apt-get install -y $*)"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "test-deps: $what is missing and there is no apt-get; its test will be skipped"
        return 0
    fi
    echo "test-deps: installing Debian's $*"
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${APT_UPDATED:-}" ]; then
        apt-get update -qq && APT_UPDATED=1
    fi
    if apt-get install -y -qq --no-install-recommends "$@"; then
        echo "test-deps: installed $*"
    else
        echo "test-deps: apt-get failed; the test that needs $what will be skipped"
    fi
    return 0
}

if [ -x "$CHROMIUM" ]; then
    echo "test-deps: $CHROMIUM present"
else
    # fonts for readable screenshots
    apt_install "$CHROMIUM" chromium fonts-liberation
fi

if command -v "$JAVA" >/dev/null 2>&1; then
    echo "test-deps: java present ($("$JAVA" -version 2>&1 | head -n 1))"
else
    apt_install "java (for pyspark)" openjdk-17-jre-headless
fi
exit 0
