/**
 * Writes bench/RESULTS.md and bench/results/speed.svg from one device call's JSON: ours
 * (bench/engine.ts) next to llama.cpp's (bench/llama-cpp.ts) on the same GGUF, with the ratio.
 * RESULTS.md is generated: edit this file, not the page.
 *
 *   node bench/build.mjs bench/report.ts
 *   node bench/dist/report.js --engine bench/results/engine-....json --peer bench/results/llama-cpp-....json
 *     [--format Q4_0] [--model-name Llama-3.1-8B] [--md bench/RESULTS.md] [--svg bench/results/speed.svg]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    engine: { type: 'string', default: 'bench/results/engine-llama-3.1-8b-Q4_0-nvidia-h200.json' },
    peer: { type: 'string', default: 'bench/results/llama-cpp-llama-3.1-8b-Q4_0-nvidia-h200.json' },
    'model-name': { type: 'string', default: 'Llama-3.1-8B' },
    format: { type: 'string', default: 'Q4_0 (layers and token_embd), output Q6_K' },
    notes: { type: 'string' },
    md: { type: 'string', default: 'bench/RESULTS.md' },
    svg: { type: 'string', default: 'bench/results/speed.svg' },
  },
});

type Pcts = { p50: number | null; p90: number | null; p99: number | null; mean: number | null };
interface DecodeRow { batch: number; gen: number; promptLen: number; settleSteps?: number; tokensPerSec: number | null; perSeqTokensPerSec: number | null; itlMs: Pcts; llamaTimers?: { tokensPerSec: number | null }; llamaDecodeCalls?: number }
interface PrefillRow { promptLen: number; ttftMs: number | null; tokensPerSec: number | null; llamaTimers?: { tokensPerSec: number | null } }
interface Serving { requests: number; promptLens: number[]; gen: number; outputTokensPerSec: number | null; totalTokensPerSec: number | null; ttftMs: Pcts; itlMs: Pcts }
interface Engine {
  date: string;
  adapter: { vendor: string; device: string; description: string; runtime: string };
  options: { model: string; act: string };
  loadMs: number;
  copyBandwidth?: { readWriteGBps: number };
  memory: { weightGpuBytes: number; kvCacheBytes: number; kvCacheTokens: number; activationBytes: number; totalGpuBytes: number };
  decode?: DecodeRow[];
  prefill?: PrefillRow[];
  serving?: Serving;
  decodeSteps?: { batch: number; hostMs: { total: number }; stepWallMs: number; gpuMs: number | null }[];
  roofline?: { bandwidthGBps: number; stepFloorMs: number; batch1CeilingTokensPerSec: number; weightBytesPerStep: number };
}
interface Peer {
  date: string;
  versions: { nodeLlamaCpp: string; llamaCpp: { release: string } };
  gpu: { devices: string[] };
  options: { model: string; 'batch-size': string };
  loadMs: number;
  modelInfo: { fileBytes: number; gpuLayers: number; totalLayers: number };
  memory: { modelVramBytes: number; largestContextVramBytes?: number; largestContextTokens?: number };
  decode?: DecodeRow[];
  prefill?: PrefillRow[];
  serving?: Serving;
}

const readJson = <T>(p: string) => JSON.parse(readFileSync(p, 'utf8')) as T;
const ours = readJson<Engine>(args.engine!);
const peer = readJson<Peer>(args.peer!);

const num = (x: number | null | undefined, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
const gib = (b: number | undefined) => (b === undefined ? '–' : `${(b / 2 ** 30).toFixed(2)} GiB`);
/** ours / theirs, where higher is better for both (tokens/s). */
const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? `${(a / b).toFixed(2)}x` : '–');
/** theirs / ours, for times (lower is better): still > 1 means we are faster. */
const ratioT = (a: number | null | undefined, b: number | null | undefined) => (a && b ? `${(b / a).toFixed(2)}x` : '–');
const table = (head: string[], rows: (string | number)[][]) =>
  [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i ? ' ---: ' : ' --- ')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

const batches = [...new Set([...(ours.decode ?? []), ...(peer.decode ?? [])].map((d) => d.batch))].sort((a, b) => a - b);
const lens = [...new Set([...(ours.prefill ?? []), ...(peer.prefill ?? [])].map((d) => d.promptLen))].sort((a, b) => a - b);
const dec = (rows: DecodeRow[] | undefined, b: number) => rows?.find((d) => d.batch === b);
const pre = (rows: PrefillRow[] | undefined, n: number) => rows?.find((d) => d.promptLen === n);
const ceiling = ours.roofline?.batch1CeilingTokensPerSec;
const frac = (tps: number | null | undefined, b: number) => (ceiling && tps ? `${((100 * tps) / b / ceiling).toFixed(1)}%` : '–');

const decodeTable = table(
  ['batch', 'ours tok/s', 'llama.cpp tok/s', 'ratio', 'ours per seq', 'llama.cpp per seq', 'ours ITL p50 ms', 'llama.cpp ITL p50 ms', 'llama.cpp own timers tok/s', 'llama_decode calls per step'],
  batches.map((b) => {
    const o = dec(ours.decode, b);
    const p = dec(peer.decode, b);
    return [b, num(o?.tokensPerSec), num(p?.tokensPerSec), ratio(o?.tokensPerSec, p?.tokensPerSec), num(o?.perSeqTokensPerSec), num(p?.perSeqTokensPerSec), num(o?.itlMs.p50, 2), num(p?.itlMs.p50, 2), num(p?.llamaTimers?.tokensPerSec), p?.llamaDecodeCalls === undefined ? '–' : num(p.llamaDecodeCalls / (p.gen - 1), 2)];
  }),
);
const prefillTable = table(
  ['prompt tokens', 'ours tok/s', 'llama.cpp tok/s', 'ratio', 'ours TTFT ms', 'llama.cpp TTFT ms', 'TTFT ratio', 'llama.cpp own timers tok/s'],
  lens.map((n) => {
    const o = pre(ours.prefill, n);
    const p = pre(peer.prefill, n);
    return [n, num(o?.tokensPerSec), num(p?.tokensPerSec), ratio(o?.tokensPerSec, p?.tokensPerSec), num(o?.ttftMs), num(p?.ttftMs), ratioT(o?.ttftMs, p?.ttftMs), num(p?.llamaTimers?.tokensPerSec)];
  }),
);
const so = ours.serving;
const sp = peer.serving;
const servingTable = table(
  ['', 'ours', 'llama.cpp', 'ratio'],
  [
    ['requests x output tokens', so ? `${so.requests} x ${so.gen}` : '–', sp ? `${sp.requests} x ${sp.gen}` : '–', ''],
    ['prompt lengths', so?.promptLens.join(', ') ?? '–', sp?.promptLens.join(', ') ?? '–', ''],
    ['output tok/s', num(so?.outputTokensPerSec), num(sp?.outputTokensPerSec), ratio(so?.outputTokensPerSec, sp?.outputTokensPerSec)],
    ['total (prompt + output) tok/s', num(so?.totalTokensPerSec), num(sp?.totalTokensPerSec), ratio(so?.totalTokensPerSec, sp?.totalTokensPerSec)],
    ['TTFT p50 / p90 ms', `${num(so?.ttftMs.p50, 0)} / ${num(so?.ttftMs.p90, 0)}`, `${num(sp?.ttftMs.p50, 0)} / ${num(sp?.ttftMs.p90, 0)}`, ratioT(so?.ttftMs.p50, sp?.ttftMs.p50)],
    ['ITL p50 / p90 ms', `${num(so?.itlMs.p50, 2)} / ${num(so?.itlMs.p90, 2)}`, `${num(sp?.itlMs.p50, 2)} / ${num(sp?.itlMs.p90, 2)}`, ratioT(so?.itlMs.p50, sp?.itlMs.p50)],
  ],
);
const stepsTable = table(
  ['batch', 'host ms / step', 'GPU ms / step', 'wall ms / step', 'llama.cpp ITL p50 ms'],
  (ours.decodeSteps ?? []).map((s) => [s.batch, num(s.hostMs.total, 3), num(s.gpuMs, 3), num(s.stepWallMs, 3), num(dec(peer.decode, s.batch)?.itlMs.p50, 2)]),
);
const memoryTable = table(
  ['', 'ours', 'llama.cpp'],
  [
    ['weights on the GPU', gib(ours.memory.weightGpuBytes), gib(peer.memory.modelVramBytes)],
    ['KV cache + activations', `${gib(ours.memory.kvCacheBytes + ours.memory.activationBytes)} (${ours.memory.kvCacheTokens} tokens)`, `${gib(peer.memory.largestContextVramBytes)} (${peer.memory.largestContextTokens ?? '–'} tokens)`],
    ['load time', `${num(ours.loadMs / 1e3, 1)} s`, `${num(peer.loadMs / 1e3, 1)} s`],
  ],
);
const rf = ours.roofline;
const rooflineTable = table(
  ['batch', 'ours', 'llama.cpp'],
  batches.map((b) => [b, frac(dec(ours.decode, b)?.tokensPerSec, b), frac(dec(peer.decode, b)?.tokensPerSec, b)]),
);

// --- SVG: grouped bars, ours vs llama.cpp, each metric scaled to the larger of the two.
const metrics: { label: string; ours: number | null | undefined; peer: number | null | undefined }[] = [
  ...batches.map((b) => ({ label: `decode b${b}`, ours: dec(ours.decode, b)?.tokensPerSec, peer: dec(peer.decode, b)?.tokensPerSec })),
  ...lens.map((n) => ({ label: `prefill ${n}`, ours: pre(ours.prefill, n)?.tokensPerSec, peer: pre(peer.prefill, n)?.tokensPerSec })),
  { label: 'serving out', ours: so?.outputTokensPerSec, peer: sp?.outputTokensPerSec },
];
function svgChart(): string {
  const W = 760;
  const rowH = 34;
  const left = 110;
  const barW = 520;
  const top = 40;
  const H = top + metrics.length * rowH + 30;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${left}" y="18" font-size="14" font-weight="bold">${esc(`${args['model-name']} ${ours.options.model ? path.basename(ours.options.model) : ''}: tokens/s (longer is faster)`)}</text>`,
    `<rect x="${left}" y="26" width="10" height="10" fill="#2b6cb0"/><text x="${left + 14}" y="35">wgllm</text>`,
    `<rect x="${left + 70}" y="26" width="10" height="10" fill="#c05621"/><text x="${left + 84}" y="35">llama.cpp Vulkan</text>`,
  ];
  metrics.forEach((m, i) => {
    const y = top + i * rowH;
    const max = Math.max(m.ours ?? 0, m.peer ?? 0) || 1;
    parts.push(`<text x="${left - 6}" y="${y + 18}" text-anchor="end">${esc(m.label)}</text>`);
    [[m.ours, '#2b6cb0', 2], [m.peer, '#c05621', 16]].forEach(([v, color, dy]) => {
      const w = Math.max(1, ((Number(v) || 0) / max) * barW);
      parts.push(`<rect x="${left}" y="${y + Number(dy)}" width="${w.toFixed(1)}" height="13" fill="${color}"/>`);
      parts.push(`<text x="${(left + w + 4).toFixed(1)}" y="${y + Number(dy) + 11}">${num(v as number | null | undefined, 0)}</text>`);
    });
    parts.push(`<text x="${W - 8}" y="${y + 18}" text-anchor="end" font-weight="bold">${ratio(m.ours, m.peer)}</text>`);
  });
  parts.push(`<text x="${left}" y="${H - 8}" fill="#555">Bars of a row share one scale; the right column is ours / llama.cpp. ${esc(ours.adapter.device)}, ${esc(ours.date.slice(0, 10))}.</text>`, '</svg>');
  return parts.join('\n') + '\n';
}

const driver = ours.adapter.description;
const setting = (rows: DecodeRow[] | undefined, who: string) => (rows?.[0] ? `${who}: ${rows[0].gen} output tokens after a ${rows[0].promptLen}-token prompt per sequence` : `${who}: not measured`);
const rel = (p: string) => path.relative(path.dirname(args.md!), p);
const svgRel = rel(args.svg!);
const o1 = dec(ours.decode, 1)?.tokensPerSec;
const p1 = dec(peer.decode, 1)?.tokensPerSec;
const o512 = pre(ours.prefill, 512)?.tokensPerSec;
const p512 = pre(peer.prefill, 512)?.tokensPerSec;
const o32 = dec(ours.decode, 32)?.tokensPerSec;
const pBest = Math.max(0, ...(peer.decode ?? []).map((d) => d.tokensPerSec ?? 0));
const md = `# Results: wgllm vs llama.cpp on the same GPU

<!-- Generated by bench/report.ts from ${args.engine} and ${args.peer}; do not edit by hand. -->

- **Adapter**: ${ours.adapter.vendor} / ${ours.adapter.device} (${peer.gpu.devices.join(', ') || 'llama.cpp saw no device name'}), ${ours.adapter.runtime} for wgllm
- **Driver**: ${driver}
- **Model**: ${args['model-name']}-shaped GGUF with random weights (\`bench/gen-model.ts\`), ${num(peer.modelInfo.fileBytes / 1e9, 2)} GB, ${peer.modelInfo.gpuLayers}/${peer.modelInfo.totalLayers} layers offloaded by llama.cpp
- **Format**: ${args.format}; wgllm activations ${ours.options.act}
- **Peer**: llama.cpp ${peer.versions.llamaCpp.release} through node-llama-cpp ${peer.versions.nodeLlamaCpp}, prebuilt Vulkan binaries, all layers on the GPU, flash attention on, batch ${peer.options['batch-size']}
- **Date**: wgllm ${ours.date}, llama.cpp ${peer.date}
- **Sources**: [\`${path.basename(args.engine!)}\`](${rel(args.engine!)}) (bench/engine.ts), [\`${path.basename(args.peer!)}\`](${rel(args.peer!)}) (bench/llama-cpp.ts)${args.notes ? `\n- **Notes**: ${args.notes}` : ''}

Both are measured the same way from Node: greedy, EOS ignored, random prompt ids; decode tokens/s
counts from the moment every sequence has its first token and ${ours.decode?.[0]?.settleSteps ?? 0} further steps
(an idle GPU needs ~150 ms of load to reach its clocks; the JSON's \`fromStart\` counts from the first token)
to the last token; prefill is the median
time to first token of a fresh prompt (3 runs). llama.cpp's own timers (GPU work and its C++ side,
without sampling and JS) are given for reference; the last decode column counts its llama_decode
calls per step (1.00 when its sequences step together). A ratio above 1 means wgllm is faster.

![tokens/s, wgllm vs llama.cpp](${svgRel})

## Decode (tokens/s)

${setting(ours.decode, 'wgllm')}; ${setting(peer.decode, 'llama.cpp')}.

${decodeTable}

## Prefill and time to first token

${prefillTable}

## Serving throughput (concurrent requests through each engine's own batching)

${servingTable}

## Host time per decode step (wgllm's runner: prepare + encode + submit on the CPU)

${stepsTable}

## GPU memory

${memoryTable}

## Roofline fraction of decode

A decode step streams every weight once (${num((rf?.weightBytesPerStep ?? 0) / 1e9, 2)} GB); at the copy bandwidth measured in
the same call (${num(rf?.bandwidthGBps, 0)} GB/s read + write) one step cannot take less than ${num(rf?.stepFloorMs, 3)} ms, so one
sequence cannot exceed ${num(ceiling, 0)} tok/s. Per-sequence tokens/s as a fraction of that ceiling:

${rooflineTable}

## Against the targets

- Decode batch 1: ${ratio(o1, p1)} llama.cpp (target >= 1.0x); ${frac(o1, 1)} of the roofline (target >= 50%).
- Prefill 512: ${ratio(o512, p512)} llama.cpp (target >= 1.0x).
- 32 concurrent sequences: ${num(o32)} tok/s, ${ratio(o32, pBest)} llama.cpp's best parallel-sequence figure (${num(pBest)} tok/s; target >= 2x).
`;

writeFileSync(args.md!, md);
writeFileSync(args.svg!, svgChart());
console.log(`wrote ${args.md} and ${args.svg}`);
