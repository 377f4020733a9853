import { errorAnswer } from './errors.js';

const encoder = new TextEncoder();
const DONE = encoder.encode('data: [DONE]\n\n');

export interface SseHooks {
  /** the client went away before the end (its request must be aborted) */
  onCancel(): void;
  /** the stream ended, whichever way (for in-flight bookkeeping) */
  onEnd(): void;
  /** an error after the headers were sent (unexpected ones are logged) */
  onError(e: unknown, unexpected: boolean): void;
}

/**
 * OpenAI's streaming format: one `data: <json>` event per chunk, then `data: [DONE]`. The body
 * is pulled: a chunk is produced only when the client has taken the previous one, so a slow
 * reader slows its own request instead of growing a buffer. An error mid-stream (headers are
 * already sent) becomes a final `data: {"error": ...}` event, as vLLM sends it.
 */
export function sseResponse(chunks: AsyncIterable<unknown>, hooks: SseHooks): Response {
  const it = chunks[Symbol.asyncIterator]();
  let ended = false;
  const end = () => {
    if (!ended) {
      ended = true;
      hooks.onEnd();
    }
  };
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const r = await it.next();
          if (ended) return;
          if (r.done) {
            controller.enqueue(DONE);
            controller.close();
            end();
            return;
          }
          controller.enqueue(encoder.encode(`data: ${JSON.stringify(r.value)}\n\n`));
        } catch (e) {
          if (ended) return;
          const a = errorAnswer(e);
          hooks.onError(e, a.unexpected);
          controller.enqueue(encoder.encode(`data: ${JSON.stringify(a.body)}\n\n`));
          controller.enqueue(DONE);
          controller.close();
          end();
        }
      },
      cancel() {
        if (ended) return;
        hooks.onCancel();
        end();
        void it.return?.().catch(() => undefined);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // proxies (nginx) must not buffer a token stream
      'x-accel-buffering': 'no',
    },
  });
}
