#!/usr/bin/env bash
# Installs the Mosquitto broker and its command-line clients (Debian/Ubuntu) when they are missing.
# Used by scripts/test-nucleus.sh so that the nucleus' broker tests run against a real Mosquitto.
set -euo pipefail

if command -v mosquitto >/dev/null 2>&1 && command -v mosquitto_sub >/dev/null 2>&1; then
    echo "mosquitto already installed: $(command -v mosquitto)"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-mosquitto: apt-get not found; install mosquitto and mosquitto-clients with your package manager" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends mosquitto mosquitto-clients
# The package may start a system-wide broker on port 1883; the tests use their own instances on free ports.
echo "mosquitto installed: $(command -v mosquitto)"
