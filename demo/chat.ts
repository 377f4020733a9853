/**
 * The conversation: chat mode sends the whole history through chat.completions (the model's
 * chat template); raw mode continues the typed text with generate(), for models without a
 * template. Replies stream into the page; the reply element carries the token ids and finish
 * reason as data attributes (the end-to-end test reads them).
 */
import type { ChatCompletionChunk } from '../src/engine/openai/chat.js';
import type { WorkerEngine } from '../src/worker/client.js';
import { $, el } from './view.js';

export type ChatMode = 'chat' | 'raw';

export interface SendSettings {
  mode: ChatMode;
  maxTokens: number;
  temperature: number;
}

export interface ReplyStats {
  completionTokens: number;
  promptTokens: number;
  ttftMs: number;
  /** decode speed: tokens after the first, over the time after the first */
  tokensPerSecond: number;
}

function addMessage(role: 'user' | 'assistant', text: string): HTMLElement {
  const box = $('#messages');
  box.querySelector('.empty')?.remove();
  const m = el('div', { class: `msg ${role}` });
  m.append(el('span', { class: 'role' }, role === 'user' ? 'You' : 'Model'), el('span', { class: 'text' }, text));
  box.append(m);
  box.scrollTop = box.scrollHeight;
  return m;
}

function appendText(m: HTMLElement, text: string): void {
  if (!text) return;
  m.querySelector('.text')!.append(text);
  const box = $('#messages');
  box.scrollTop = box.scrollHeight;
}

function rate(n: number, ms: number): number {
  return n > 1 && ms > 0 ? ((n - 1) * 1000) / ms : 0;
}

export class Conversation {
  private history: { role: 'user' | 'assistant'; content: string }[] = [];
  private abort: AbortController | undefined;

  constructor(private readonly engine: WorkerEngine) {}

  get busy(): boolean {
    return this.abort !== undefined;
  }

  stop(): void {
    this.abort?.abort();
  }

  clear(): void {
    this.stop();
    this.history = [];
    $('#messages').replaceChildren(el('p', { class: 'empty' }, 'New chat. Write a message below.'));
    $('#stats').textContent = '';
  }

  /** Sends one message and streams the reply; resolves when the reply has ended. */
  async send(text: string, s: SendSettings): Promise<ReplyStats> {
    if (this.abort) throw new Error('a reply is still streaming; stop it first');
    const ac = new AbortController();
    this.abort = ac;
    addMessage('user', text);
    const reply = addMessage('assistant', '');
    reply.classList.add('streaming');
    try {
      return s.mode === 'raw' ? await this.sendRaw(text, s, reply, ac.signal) : await this.sendChat(text, s, reply, ac.signal);
    } finally {
      reply.classList.remove('streaming');
      this.abort = undefined;
    }
  }

  private async sendRaw(text: string, s: SendSettings, reply: HTMLElement, signal: AbortSignal): Promise<ReplyStats> {
    const promptIds = await this.engine.tokenize(text);
    reply.dataset.promptIds = promptIds.join(',');
    const ids: number[] = [];
    const params = { temperature: s.temperature, maxTokens: s.maxTokens };
    for await (const ev of this.engine.generate(promptIds, params, { signal })) {
      appendText(reply, ev.text);
      if (ev.type === 'tokens') {
        ids.push(...ev.tokenIds);
        reply.dataset.tokenIds = ids.join(',');
        continue;
      }
      reply.dataset.finish = ev.finishReason;
      const { ttftMs, totalMs } = ev.timings;
      return { completionTokens: ev.usage.completionTokens, promptTokens: ev.usage.promptTokens, ttftMs, tokensPerSecond: rate(ev.usage.completionTokens, totalMs - ttftMs) };
    }
    throw new Error('the reply ended without a finish event');
  }

  private async sendChat(text: string, s: SendSettings, reply: HTMLElement, signal: AbortSignal): Promise<ReplyStats> {
    this.history.push({ role: 'user', content: text });
    const t0 = performance.now();
    let tFirst = 0;
    let content = '';
    let stats: ReplyStats = { completionTokens: 0, promptTokens: 0, ttftMs: 0, tokensPerSecond: 0 };
    try {
      const stream = (await this.engine.chat.completions.create(
        { messages: this.history, stream: true, stream_options: { include_usage: true }, max_tokens: s.maxTokens, temperature: s.temperature },
        { signal },
      )) as AsyncIterable<ChatCompletionChunk>;
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        const delta = choice?.delta.content ?? '';
        if (delta && !tFirst) tFirst = performance.now();
        content += delta;
        appendText(reply, delta);
        if (choice?.finish_reason) reply.dataset.finish = choice.finish_reason;
        if (chunk.usage) {
          const n = chunk.usage.completion_tokens;
          stats = { completionTokens: n, promptTokens: chunk.usage.prompt_tokens, ttftMs: tFirst - t0, tokensPerSecond: rate(n, performance.now() - tFirst) };
        }
      }
    } catch (e) {
      // A refused request leaves the history as it was, so the user can edit and resend.
      if (!content) this.history.pop();
      throw e;
    }
    // A stopped reply stays in the history: the model sees what the user saw.
    this.history.push({ role: 'assistant', content });
    return stats;
  }
}

export function showStats(r: ReplyStats): void {
  const s = $('#stats');
  s.dataset.ttftMs = r.ttftMs.toFixed(0);
  s.dataset.tokensPerSecond = r.tokensPerSecond.toFixed(2);
  s.textContent =
    `${r.completionTokens} tokens · time to first token ${r.ttftMs.toFixed(0)} ms · ` +
    `${r.tokensPerSecond.toFixed(1)} tokens/s · prompt ${r.promptTokens} tokens`;
}
