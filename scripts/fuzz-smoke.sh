#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a fixed number of executions
# (FUZZTIME, default 20000x each): a smoke pass that the decoders survive fresh
# random input. The seed corpora also run as ordinary tests in `go test ./...`.
#
# The budget is a count, not a duration: with a duration Go's fuzz coordinator
# can report a spurious "context deadline exceeded" when the deadline fires
# while a worker is mid-execution on a loaded machine (golang/go#75804). A
# count has no deadline to race, so a failure here is always a real finding.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-20000x}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
  for fn in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "fuzz $pkg $fn ($fuzztime)"
    go test "$pkg" -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" >"$log" 2>&1 || { cat "$log"; exit 1; }
  done
done
