#!/usr/bin/env python3
"""PyTorch baselines on the same shapes as bench/matmul.ts and bench/attention.ts, measured in
the same device run, so that the benches report ratios rather than absolute numbers that drift
with the driver, clocks and machine.

    python3 bench/torch-baseline.py [cases.json | -]  > result.json     (default: stdin)

Input: {"cases": [...], "repeats": 5, "minMs": 3} or a bare list of cases. Each case has an
"id" (echoed back) and an "op":

  copy          {"bytes"}                       device-to-device copy (dst.copy_(src))
  matmul        {"M", "N", "K", "dtype": "bf16", "rotateBytes": 0}
                y[M,N] = x[M,K] @ W[N,K]^T through torch.matmul, W stored [N,K] like ours
  sdpa_decode   {"batch", "context", "numHeads", "numKvHeads", "headDim", "dtype": "f16", "rotateBytes"}
                one query token per sequence against `context` keys
  sdpa_prefill  {"batch", "queryLen", "numHeads", "numKvHeads", "headDim", "dtype": "f16"}
                causal self-attention over a fresh prompt

Output (stdout, JSON): {"torch", "cuda", "device", "timing", "notes", "results": [...]}; progress
and errors go to stderr. A case that fails reports {"id", "error"} and the rest still run.

Conventions, identical to the WGSL benches so the figures divide:
  copy          copyGBps = bytes / time; readWriteGBps = 2 * bytes / time (DRAM traffic, the
                convention bench/engine-steps.ts copyBandwidth uses and the one our decode GB/s is
                compared with); the fastest of copy_ (eager, in a graph) and an elementwise kernel
  matmul        tflops = 2*M*N*K / time; gbps = (W + x + y bytes) / time, like bench/matmul.ts
  sdpa_decode   gbps = K + V bytes read / time, like bench/attention.ts
  sdpa_prefill  tflops = batch * 4 * headDim * numHeads * L*(L+1)/2 / time (causal half), like
                bench/attention.ts

Timing: CUDA events around a CUDA graph of `iters` calls (so Python launch overhead does not
count; the WGSL side records its iterations in one compute pass for the same reason), after
warm-up, median of `repeats` replays, per call. Where capture fails, the same loop runs eagerly
and "method" says so. Where the weights or the KV of one call would fit in L2 (50 MB on an H200),
calls rotate over copies totalling >= rotateBytes, as the WGSL benches do, so data streams from DRAM.
"""
import json
import math
import statistics
import sys
import time
import warnings

import torch
import torch.nn.functional as F

try:
    from torch.nn.attention import SDPBackend, sdpa_kernel
except ImportError:  # older torch: only the default dispatch is timed
    SDPBackend = None
    sdpa_kernel = None

DTYPES = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}
KV_LAYOUT = "contiguous [batch, numKvHeads, context, headDim] per sequence (ours is paged: [numBlocks, blockSize, numKvHeads, headDim] through block tables)"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def timed(fn, rot, repeats, min_ms, graph=True):
    """ms per call of fn(i), i cycling over `rot` rotation slots. Returns (ms, iters, method)."""
    rot = max(1, rot)
    cur = torch.cuda.current_stream()
    # Warm-up: cuBLAS handles, workspaces and heuristics, flash-attention kernels, first touch.
    for i in range(max(2, rot)):
        fn(i)
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    n0 = max(3, rot)
    s.record()
    for i in range(n0):
        fn(i)
    e.record()
    e.synchronize()
    est = max(s.elapsed_time(e) / n0, 1e-4)
    # Enough calls per timing that event resolution and the graph launch do not matter.
    iters = int(min(2000, max(3, math.ceil(min_ms / est))))
    g = None
    if graph:
        try:
            side = torch.cuda.Stream()
            side.wait_stream(cur)
            with torch.cuda.stream(side):  # capture needs a warm-up on a side stream
                for i in range(3):
                    fn(i)
            cur.wait_stream(side)
            torch.cuda.synchronize()
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                for i in range(iters):
                    fn(i)
        except Exception as ex:  # e.g. an op that cannot be captured: time the same loop eagerly
            log(f"  graph capture failed ({type(ex).__name__}: {ex}); timing eagerly")
            g = None
            torch.cuda.synchronize()
    method = "cuda-graph" if g is not None else "eager"

    def eager():
        for i in range(iters):
            fn(i)

    run = g.replay if g is not None else eager
    run()
    torch.cuda.synchronize()
    ms = []
    for _ in range(repeats):
        s.record()
        run()
        e.record()
        e.synchronize()
        ms.append(s.elapsed_time(e) / iters)
    del g
    return statistics.median(ms), iters, method


def copies_for(one_bytes, rotate_bytes):
    return max(1, min(256, math.ceil(rotate_bytes / one_bytes))) if rotate_bytes > 0 else 1


def run_copy(c, repeats, min_ms):
    n = int(c["bytes"]) // 16 * 16
    src = torch.empty(n, dtype=torch.uint8, device="cuda").random_(0, 255)
    dst = torch.empty_like(src)
    s32, d32 = src.view(torch.float32), dst.view(torch.float32)
    # A same-device copy_ is a cudaMemcpyAsync, which the driver may hand to a copy engine (in a
    # graph it becomes a memcpy node) and which then moves far less than the SMs can; an
    # elementwise kernel reads and writes the same bytes through the SMs. The reference is the
    # fastest of them: the bandwidth a plain copy can reach on this GPU.
    variants = [("copy_ (cudaMemcpyAsync), eager", lambda i: dst.copy_(src), False),
                ("copy_ in a CUDA graph (memcpy node)", lambda i: dst.copy_(src), True),
                ("elementwise kernel: torch.add(src, 0, out=dst), f32", lambda i: torch.add(s32, 0, out=d32), True)]
    tried = []
    for name, fn, graph in variants:
        try:
            ms, iters, method = timed(fn, 1, repeats, min_ms, graph)
            tried.append({"variant": name, "ms": ms, "readWriteGBps": 2 * n / ms / 1e6, "iters": iters, "method": method})
        except Exception as ex:
            torch.cuda.synchronize()
            tried.append({"variant": name, "error": f"{type(ex).__name__}: {ex}"})
    ok = [t for t in tried if "ms" in t]
    if not ok:
        raise RuntimeError("no copy variant ran")
    best = min(ok, key=lambda t: t["ms"])
    gb = n / best["ms"] / 1e6
    return {"bytes": n, "ms": best["ms"], "copyGBps": gb, "readWriteGBps": 2 * gb, "iters": best["iters"], "method": best["method"],
            "variant": best["variant"], "tried": tried}


def warm_up(seconds):
    """Busy the GPU until it runs at its working clocks: the first case would otherwise run slow."""
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    t = time.time()
    while time.time() - t < seconds:
        for _ in range(20):
            a @ a
        torch.cuda.synchronize()


def run_matmul(c, repeats, min_ms):
    M, N, K = int(c["M"]), int(c["N"]), int(c["K"])
    dt = DTYPES[c.get("dtype", "bf16")]
    el = torch.tensor([], dtype=dt).element_size()
    rot = copies_for(N * K * el, int(c.get("rotateBytes", 0)))
    x = torch.randn(M, K, device="cuda", dtype=dt)
    ws = [torch.randn(N, K, device="cuda", dtype=dt) * 0.02 for _ in range(rot)]
    y = torch.empty(M, N, device="cuda", dtype=dt)
    ms, iters, method = timed(lambda i: torch.matmul(x, ws[i % rot].t(), out=y), rot, repeats, min_ms)
    moved = el * (N * K + M * K + M * N)
    return {"ms": ms, "tflops": 2 * M * N * K / ms / 1e9, "gbps": moved / ms / 1e6, "copies": rot, "iters": iters, "method": method,
            "dtype": c.get("dtype", "bf16"), "layout": "x[M,K] @ W[N,K]^T (torch.matmul on a transposed view)"}


def backends():
    if SDPBackend is None:
        return [("default", None)]
    # The math backend materializes the score matrix: not a peer worth timing.
    return [("flash", SDPBackend.FLASH_ATTENTION), ("efficient", SDPBackend.EFFICIENT_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)]


def best_of(variants, rot, repeats, min_ms):
    """Times every (variant, backend) pair that runs; the baseline is the fastest of them."""
    tried = []
    # Backends that decline a shape explain why in a UserWarning each: `tried` has the gist.
    warnings.filterwarnings("ignore", category=UserWarning)
    for vname, fn in variants:
        for bname, b in backends():
            try:
                if b is None:
                    ms, iters, method = timed(fn, rot, repeats, min_ms)
                else:
                    with sdpa_kernel([b]):
                        ms, iters, method = timed(fn, rot, repeats, min_ms)
                tried.append({"variant": vname, "backend": bname, "ms": ms, "iters": iters, "method": method})
            except Exception as ex:  # a backend that does not take this shape/dtype/GQA
                torch.cuda.synchronize()
                tried.append({"variant": vname, "backend": bname, "error": f"{type(ex).__name__}: {str(ex).splitlines()[0][:200] if str(ex) else ''}"})
    ok = [t for t in tried if "ms" in t]
    if not ok:
        raise RuntimeError("no SDPA backend ran: " + "; ".join(f"{t['variant']}/{t['backend']}: {t['error']}" for t in tried))
    return min(ok, key=lambda t: t["ms"]), tried


def run_sdpa_decode(c, repeats, min_ms):
    B, S = int(c["batch"]), int(c["context"])
    H, Hkv, D = int(c["numHeads"]), int(c["numKvHeads"]), int(c["headDim"])
    dt = DTYPES[c.get("dtype", "f16")]
    el = torch.tensor([], dtype=dt).element_size()
    kv_bytes = 2 * B * Hkv * S * D * el
    rot = copies_for(kv_bytes, int(c.get("rotateBytes", 0)))
    G = H // Hkv
    q = torch.randn(B, H, 1, D, device="cuda", dtype=dt)
    ks = [torch.randn(B, Hkv, S, D, device="cuda", dtype=dt) for _ in range(rot)]
    vs = [torch.randn(B, Hkv, S, D, device="cuda", dtype=dt) for _ in range(rot)]
    # One query token sees every key: no mask. Two ways to share a KV head among its query heads
    # without reading the KV more than once: enable_gqa, or the G query heads of a KV head as
    # G query rows (q [B, H, 1, D] -> [B, Hkv, G, D]; head h uses KV head h // G, as enable_gqa does).
    qf = q.view(B, Hkv, G, D)
    variants = [("enable_gqa", lambda i: F.scaled_dot_product_attention(q, ks[i % rot], vs[i % rot], enable_gqa=True)),
                ("heads-as-rows", lambda i: F.scaled_dot_product_attention(qf, ks[i % rot], vs[i % rot]))]
    best, tried = best_of(variants, rot, repeats, min_ms)
    ms = best["ms"]
    return {"ms": ms, "gbps": kv_bytes / ms / 1e6, "kvBytes": kv_bytes, "copies": rot, "variant": best["variant"], "backend": best["backend"],
            "method": best["method"], "tried": tried, "dtype": c.get("dtype", "f16"), "kvLayout": KV_LAYOUT}


def run_sdpa_prefill(c, repeats, min_ms):
    B, L = int(c["batch"]), int(c["queryLen"])
    H, Hkv, D = int(c["numHeads"]), int(c["numKvHeads"]), int(c["headDim"])
    dt = DTYPES[c.get("dtype", "f16")]
    q = torch.randn(B, H, L, D, device="cuda", dtype=dt)
    k = torch.randn(B, Hkv, L, D, device="cuda", dtype=dt)
    v = torch.randn(B, Hkv, L, D, device="cuda", dtype=dt)
    # Fallback for backends without GQA: K/V expanded to every query head once, outside the timing
    # (prefill is compute-bound, so the extra KV bytes barely matter).
    ke, ve = k.repeat_interleave(H // Hkv, 1), v.repeat_interleave(H // Hkv, 1)
    variants = [("enable_gqa", lambda i: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)),
                ("kv-expanded", lambda i: F.scaled_dot_product_attention(q, ke, ve, is_causal=True))]
    best, tried = best_of(variants, 1, repeats, min_ms)
    ms = best["ms"]
    flops = B * 4 * D * H * (L * (L + 1) / 2)
    return {"ms": ms, "tflops": flops / ms / 1e9, "variant": best["variant"], "backend": best["backend"], "method": best["method"],
            "tried": tried, "dtype": c.get("dtype", "f16"), "kvLayout": KV_LAYOUT}


OPS = {"copy": run_copy, "matmul": run_matmul, "sdpa_decode": run_sdpa_decode, "sdpa_prefill": run_sdpa_prefill}


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "-"
    spec = json.load(sys.stdin if src == "-" else open(src))
    if isinstance(spec, list):
        spec = {"cases": spec}
    repeats = int(spec.get("repeats", 5))
    min_ms = float(spec.get("minMs", 3))
    if not torch.cuda.is_available():
        print(json.dumps({"torch": torch.__version__, "error": "torch.cuda.is_available() is False"}))
        return 2
    torch.manual_seed(0)
    props = torch.cuda.get_device_properties(0)
    out = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name(0),
        "capability": list(torch.cuda.get_device_capability(0)),
        "memoryBytes": props.total_memory,
        "timing": {"repeats": repeats, "minMs": min_ms, "how": "CUDA events around a CUDA graph of iters calls after warm-up; median of repeats, per call"},
        "notes": {"kvLayout": "torch SDPA reads a " + KV_LAYOUT,
                  "sdpa": "each SDPA case times flash / efficient / cudnn backends x GQA variants; ms is the fastest, tried lists all",
                  "copy": "readWriteGBps = 2 * bytes / time, the convention of the WGSL benches' GB/s"},
        "results": [],
    }
    tw = time.time()
    warm_up(float(spec.get("warmUpS", 1.0)))
    t0 = time.time()
    out["warmUpS"] = round(t0 - tw, 2)
    for c in spec["cases"]:
        op = c.get("op")
        try:
            r = OPS[op](c, repeats, min_ms)
            out["results"].append({"id": c.get("id"), "op": op, **r})
            figs = [f"{r['tflops']:.1f} TFLOP/s"] if "tflops" in r else []
            figs += [f"{r[k]:.0f} GB/s" for k in ("readWriteGBps", "gbps") if k in r][:1]
            fig = ", ".join(figs)
            log(f"torch {c.get('id')}: {r['ms']:.4f} ms, {fig}")
        except Exception as ex:
            out["results"].append({"id": c.get("id"), "op": op, "error": f"{type(ex).__name__}: {ex}"})
            log(f"torch {c.get('id')}: ERROR {type(ex).__name__}: {ex}")
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
    out["elapsedS"] = round(time.time() - t0, 2)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
