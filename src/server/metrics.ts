import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineStats, GenerationEvent } from '../engine/types.js';

// vLLM's buckets, so dashboards built for vLLM read these histograms the same way.
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];
const ITL_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
const REQUEST_BUCKETS = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];
const TOKEN_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

/**
 * The server's Prometheus metrics, in a registry of its own (two servers in one process never
 * share counters). Names are vLLM's under a `wgllm:` prefix. Engine-wide values (queue sizes,
 * KV usage, token and prefix-cache totals) are read from `engine.stats()` at scrape time;
 * per-request latencies are observed from each request's events as they stream.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private stats: (() => EngineStats) | undefined;
  private readonly ttft: Histogram;
  private readonly itl: Histogram;
  private readonly e2e: Histogram;
  private readonly queue: Histogram;
  private readonly promptTokens: Histogram;
  private readonly generationTokens: Histogram;
  private readonly finished: Counter<'finished_reason'>;
  private readonly http: Counter<'method' | 'route' | 'status'>;

  constructor() {
    const registers = [this.registry];
    // prom-client calls collect() with the metric as `this`; the engine is reached through this closure.
    const current = () => this.stats?.();
    const fromStats = (name: string, help: string, read: (s: EngineStats) => number) => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const s = current();
          if (s) this.set(read(s));
        },
      });
    };
    fromStats('wgllm:num_requests_running', 'Requests in the running batch (their KV blocks are allocated).', (s) => s.numRunning);
    fromStats('wgllm:num_requests_waiting', 'Requests waiting to be scheduled (queued or preempted).', (s) => s.numWaiting);
    fromStats('wgllm:kv_cache_usage_perc', 'Fraction of KV-cache blocks in use (1 = full).', (s) => s.kvCacheUsage);
    fromStats('wgllm:num_kv_blocks', 'KV-cache blocks in the pool.', (s) => s.numKvBlocks);
    // Monotonic engine totals as counters: each scrape adds what grew since the last one.
    const totalCounter = (name: string, help: string, read: (s: EngineStats) => number) => {
      let last = 0;
      new Counter({
        name,
        help,
        registers,
        collect() {
          const s = current();
          if (!s) return;
          const now = read(s);
          if (now > last) this.inc(now - last);
          last = Math.max(last, now);
        },
      });
    };
    totalCounter('wgllm:prompt_tokens_total', 'Prompt tokens of admitted requests.', (s) => s.totals.promptTokens);
    totalCounter('wgllm:generation_tokens_total', 'Generated tokens.', (s) => s.totals.generationTokens);
    totalCounter('wgllm:prefix_cache_queries_total', 'Prefix-cache queries (tokens looked up).', (s) => s.prefixCache.queries);
    totalCounter('wgllm:prefix_cache_hits_total', 'Prefix-cache hits (tokens found cached).', (s) => s.prefixCache.hits);
    totalCounter('wgllm:num_preemptions_total', 'Requests preempted (KV freed, recomputed later).', (s) => s.totals.preemptions);
    const hist = (name: string, help: string, buckets: number[]) => new Histogram({ name, help, buckets, registers });
    this.ttft = hist('wgllm:time_to_first_token_seconds', 'Time from arrival to the first generated token.', TTFT_BUCKETS);
    this.itl = hist('wgllm:inter_token_latency_seconds', 'Time between consecutive generated tokens of a request.', ITL_BUCKETS);
    this.e2e = hist('wgllm:e2e_request_latency_seconds', 'Time from arrival to the end of a request.', REQUEST_BUCKETS);
    this.queue = hist('wgllm:request_queue_time_seconds', 'Time from arrival to first being scheduled.', REQUEST_BUCKETS);
    this.promptTokens = hist('wgllm:request_prompt_tokens', 'Prompt tokens per finished request.', TOKEN_BUCKETS);
    this.generationTokens = hist('wgllm:request_generation_tokens', 'Generated tokens per finished request.', TOKEN_BUCKETS);
    this.finished = new Counter({
      name: 'wgllm:request_success_total',
      help: 'Finished requests by finish reason (stop, length, abort).',
      labelNames: ['finished_reason'],
      registers,
    });
    this.http = new Counter({
      name: 'wgllm:http_requests_total',
      help: 'HTTP requests answered, by method, route and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
  }

  /** Where engine-wide values come from (set once the model is loaded). */
  bindEngine(stats: () => EngineStats): void {
    this.stats = stats;
  }

  /** A listener for one request's events. */
  readonly tap = (): ((e: GenerationEvent) => void) => {
    let lastToken = -1;
    return (e) => {
      const now = performance.now();
      if (e.type === 'tokens') {
        if (lastToken >= 0 && e.tokenIds.length) {
          const gap = (now - lastToken) / 1000 / e.tokenIds.length;
          for (let i = 0; i < e.tokenIds.length; i++) this.itl.observe(gap);
        }
        if (e.tokenIds.length) lastToken = now;
        return;
      }
      // The engine's timings start at its arrival time (before any queueing).
      if (e.usage.completionTokens > 0) this.ttft.observe(e.timings.ttftMs / 1000);
      this.queue.observe(e.timings.queuedMs / 1000);
      this.e2e.observe(e.timings.totalMs / 1000);
      this.promptTokens.observe(e.usage.promptTokens);
      this.generationTokens.observe(e.usage.completionTokens);
      this.finished.inc({ finished_reason: e.finishReason });
    };
  };

  countHttp(method: string, route: string, status: number): void {
    this.http.inc({ method, route, status: String(status) });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
