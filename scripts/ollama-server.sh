#!/usr/bin/env bash
# Builds the Ollama server that the integration tests run, from the Go module at
# the version go.mod pins for github.com/ollama/ollama, and caches the binary.
# Prints the binary's path on stdout; everything else goes to stderr.
#
# The module archive leaves out llama.cpp's vendored headers (Go drops folders
# named vendor), so this supplies them: nlohmann/json and stb from Debian,
# miniaudio.h from the Go module github.com/gen2brain/malgo.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

version=$(go list -m -f '{{.Version}}' github.com/ollama/ollama)
cache=${PROBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/probe}
dir="$cache/ollama-$version"
bin="$dir/ollama"

if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

log() { echo "ollama-server: $*" >&2; }

need_pkgs=()
[ -f /usr/include/nlohmann/json.hpp ] || need_pkgs+=(nlohmann-json3-dev)
[ -f /usr/include/stb/stb_image.h ] || need_pkgs+=(libstb-dev)
command -v gcc >/dev/null || need_pkgs+=(gcc)
command -v g++ >/dev/null || need_pkgs+=(g++)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_pkgs[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq "${need_pkgs[@]}" >&2
fi

malgo=v0.11.24
malgo_dir=$(cd "$(mktemp -d)" && go mod download -json "github.com/gen2brain/malgo@$malgo" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ ! -f "$malgo_dir/miniaudio.h" ]; then
  log "miniaudio.h not found in github.com/gen2brain/malgo@$malgo"
  exit 1
fi
inc="$cache/include"
mkdir -p "$inc/miniaudio" "$dir"
cp -f "$malgo_dir/miniaudio.h" "$inc/miniaudio/miniaudio.h"

log "building github.com/ollama/ollama@$version (CPU only; about 6 minutes on 2 cores, once)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(
  cd "$tmp"
  CGO_ENABLED=1 CGO_CPPFLAGS="-I$inc ${CGO_CPPFLAGS:-}" GOBIN="$tmp" GOFLAGS=-mod=mod \
    go install -ldflags "-X github.com/ollama/ollama/version.Version=${version#v}" \
    "github.com/ollama/ollama@$version" >&2
)
mv "$tmp/ollama" "$bin"
log "built $bin"
echo "$bin"
