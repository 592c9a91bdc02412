#!/usr/bin/env bash
# Runs the payload's differential fuzzer (FuzzPayload) for a while; CI runs only its seed corpus.
# Usage: scripts/fuzz.sh [duration, default 60s]. A failing input is saved under testdata/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -fuzz '^FuzzPayload$' -fuzztime "${1:-60s}" .
