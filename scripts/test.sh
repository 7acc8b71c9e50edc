#!/usr/bin/env bash
# The project's one test command (README; .ci/run calls it and nothing else).
# On a fresh Debian machine with Go it installs what the tests need, builds
# the Ollama server from its Go module (cached after the first time), checks
# formatting and vet, and runs every test, unit and integration, with -race.
# Under CI (CI=true) a skipped test is a failure: the integration tests must
# run against the real server.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "Debian packages"
need=()
[ -f /usr/include/nlohmann/json.hpp ] || need+=(nlohmann-json3-dev)
[ -f /usr/include/stb/stb_image.h ] || need+=(libstb-dev)
command -v gcc >/dev/null || need+=(gcc)
command -v g++ >/dev/null || need+=(g++)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "all present"
fi

step "Go modules"
go mod download
go mod verify

step "Ollama server (built from its Go module, cached)"
PROBE_OLLAMA_BIN=$(scripts/ollama-server.sh)
export PROBE_OLLAMA_BIN
echo "$PROBE_OLLAMA_BIN"

step "gofmt and go vet"
unformatted=$(gofmt -l . | grep -v '^vendor/' || true)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
echo "clean"

step "go test -race ./... (unit and integration)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
go test -race -count=1 -timeout 25m -json ./... >"$log"
set -e
go run ./scripts/testsummary -no-skip="${CI:-false}" <"$log"
