#!/usr/bin/env bash
# On the GPU machine, from the project root: unpacks .peercarry/peer.tar.xz (made by pack.sh)
# into bench/peer/node_modules, where bench/dist/llama-cpp.js looks for node-llama-cpp.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tar -xJf "$root/.peercarry/peer.tar.xz" -C "$root/bench/peer"
