#!/usr/bin/env bash
# A headless browser for the report tests: Debian's chromium and chromium-driver (installed once; a re-run is instant).
# Prints the paths of the browser and the driver, one per line.
set -euo pipefail
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "test-browser: installing chromium and chromium-driver" >&2
  run() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  run apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive run apt-get install -y -q chromium chromium-driver >&2
fi
command -v chromium
command -v chromedriver
