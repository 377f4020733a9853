#!/usr/bin/env bash
# Every benchmark of bench/RESULTS.md in one device call, so that each ratio compares figures of the
# same machine, driver and moment: matmul conformance first (no timing if a kernel is wrong), then
# the engine and llama.cpp on the same generated GGUF, then the matmul and attention tables with
# their PyTorch baselines. Logs and JSON go to $OUT (or the first argument).
#
# Here, first: npm ci; node bench/build.mjs bench/gen-model.ts bench/engine.ts bench/llama-cpp.ts \
#   bench/report.ts bench/matmul.ts bench/attention.ts; bash bench/peer/pack.sh;
#   bash ../shared/gpu/prepare.sh; .tokcarry/tokenizer.json = SmolLM2's tokenizer.json.
# Device call: bash bench/run-gpu.sh, carry [".gpu", "bench/dist", ".tokcarry", ".peercarry"].
# Afterwards: node bench/dist/report.js --engine <out>/engine.json --peer <out>/llama-cpp.json
# `bash bench/run-gpu.sh DIR engine` runs the conformance check, the engine and llama.cpp only;
# `bash bench/run-gpu.sh DIR tables` the matmul and attention tables only (each fits one call).
set -u
out=${1:-$OUT}
only=${2:-all}
run() { bash .gpu/run.sh node "$@"; }
same=(--batches 1,8,32,64 --gen 64 --prompts 128,512,2048 --concurrency 32)

if [ "$only" = all ] || [ "$only" = engine ]; then
# The check covers the matmul kernels the engine runs on this adapter (gemm only serves f32 there),
# at their default configs (the full config sweep is `wgllm selftest --all-configs`: minutes).
timeout 240 bash .gpu/run.sh node bench/dist/matmul.js --check defaults --check-kernels matmul.gemv,matmul.gemv-int8,matmul.gemv-int8-pre,matmul.tensor \
  --models llama-3.1-8b --formats q4_0 --paths tensor \
  --m 32 --shapes q_proj --torch off --out "$out/matmul-check.json" >"$out/check.log" 2>&1
if ! grep -q "^check: .* 0 failed" "$out/check.log"; then
  echo "matmul conformance failed on this adapter: see check.log"
  tail -20 "$out/check.log"
  exit 1
fi
[ -s /tmp/l8b.gguf ] || run bench/dist/gen-model.js --model llama-3.1-8b --format Q4_0 --out /tmp/l8b.gguf --tokenizer .tokcarry/tokenizer.json || exit 1
timeout 200 bash .gpu/run.sh node bench/dist/engine.js --model /tmp/l8b.gguf --act f16 "${same[@]}" --out "$out/engine.json" >"$out/engine.log" 2>&1
bash bench/peer/unpack.sh >/dev/null &&
  timeout 200 bash .gpu/run.sh node bench/dist/llama-cpp.js --model /tmp/l8b.gguf "${same[@]}" --out "$out/llama-cpp.json" >"$out/llama.log" 2>&1
fi
if [ "$only" = all ] || [ "$only" = tables ]; then
# gemv: the engine's decode kernel (int8-dot for Q4_0/Q8_0 at f16); gemv-split: the general GEMV on the same shapes
timeout 300 bash .gpu/run.sh node bench/dist/matmul.js --models llama-3.1-8b --formats q4_0,q8_0,f16 --paths gemv,gemv-split,gemm,tensor \
  --check on --check-kernels matmul.gemm --out "$out/matmul.json" >"$out/matmul.log" 2>&1
timeout 90 bash .gpu/run.sh node bench/dist/attention.js --check quick --out "$out/attention.json" >"$out/attention.log" 2>&1
fi
for f in "$out"/*.log; do echo "== $f"; tail -4 "$f"; done
