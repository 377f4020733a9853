#!/usr/bin/env bash
# Packs llama.cpp (node-llama-cpp + its prebuilt linux-x64 Vulkan binaries) for the GPU machine:
# only what getLlama({gpu: 'vulkan', build: 'never'}) loads at run time, as one solid tar.xz in
# .peercarry/ (git-excluded) so that .gpu + bench/dist + this fit a call's 64 MiB carry.
#   bash bench/peer/pack.sh            # here, from the project root (installs bench/peer first)
#   bash bench/peer/unpack.sh          # there, before bench/dist/llama-cpp.js
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
peer="$root/bench/peer"
out="$root/.peercarry"
cd "$peer"
# --ignore-scripts: the postinstall would try to download or build llama.cpp. npm install, not ci:
# the lock file lacks the mac/win/riscv optional packages that this registry does not carry, which
# npm ci rejects as out of sync; --omit=optional skips the CUDA and ARM binaries.
[ -d node_modules/node-llama-cpp ] || npm install --ignore-scripts --omit=optional --no-audit --no-fund
grep -qx '/.peercarry/' "$root/.git/info/exclude" 2>/dev/null || echo '/.peercarry/' >> "$root/.git/info/exclude"

# Production dependencies, minus the binaries of other platforms and GPU backends.
mapfile -t deps < <(npm ls --omit=dev --all --parseable 2>/dev/null | sed -n "s|^$peer/||p" \
  | grep '^node_modules/' | grep -v '^node_modules/@node-llama-cpp/' | grep -v '^node_modules/node-llama-cpp$' | sort -u)
vk=node_modules/@node-llama-cpp/linux-x64-vulkan
nlc=node_modules/node-llama-cpp
# ggml picks the best CPU variant present at run time; with every layer on the GPU the CPU backend
# only looks up token embeddings, so the baseline plus the AVX2/AVX-512 server variants suffice.
cpu_keep='x64|haswell|skylakex|icelake|sapphirerapids|zen4'
files=(
  "$nlc/package.json" "$nlc/LICENSE" "$nlc/dist" "$nlc/bins"
  "$nlc/llama/binariesGithubRelease.json" "$nlc/llama/llama.cpp.info.json" "$nlc/llama/grammars"
  "$vk/package.json" "$vk/LICENSE" "$vk/dist"
  $(ls "$vk"/bins/linux-x64-vulkan/* | grep -Ev "libggml-cpu-" )
  $(ls "$vk"/bins/linux-x64-vulkan/libggml-cpu-*.so | grep -E "libggml-cpu-($cpu_keep)\.so$")
  "${deps[@]}"
)
rm -rf "$out" && mkdir -p "$out"
# Node resolves node-llama-cpp from bench/peer/node_modules; type declarations, source maps and
# docs are never read at run time.
tar -cf - --exclude='*.map' --exclude='*.d.ts' --exclude='*.md' --exclude='*.ts' --exclude='node_modules/*/node_modules/.bin' \
  "${files[@]}" | xz -9 -T0 > "$out/peer.tar.xz"
echo "$(du -b "$out/peer.tar.xz" | cut -f1) bytes in .peercarry/peer.tar.xz ($(tar -tJf "$out/peer.tar.xz" | wc -l) entries)"
