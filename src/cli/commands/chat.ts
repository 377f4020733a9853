import { createInterface } from 'node:readline';
import { WgllmError } from '../../core/errors.js';
import { RequestError } from '../../engine/openai/errors.js';
import { parse } from '../args.js';
import { loadModel, modelSettings, MODEL_OPTIONS, MODEL_OPTIONS_HELP, processIo, samplingBody, SAMPLING_OPTIONS, SAMPLING_OPTIONS_HELP, type CliIo } from './run.js';

export const CHAT_HELP = `wgllm chat: an interactive chat in the terminal, through the model's chat template

Usage: wgllm chat --model M [options]

  --system S                a system message at the start of the conversation
${SAMPLING_OPTIONS_HELP}
${MODEL_OPTIONS_HELP}

In the chat: /reset clears the history, /exit (or Ctrl-D) quits, Ctrl-C stops a reply.
When the history outgrows the context, the oldest turns are dropped.`;

type Message = { role: 'system' | 'user' | 'assistant'; content: string };
type Chunk = { choices: { delta?: { content?: string } }[] };

export async function chatCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  const { values, positionals } = parse(argv, { ...MODEL_OPTIONS, ...SAMPLING_OPTIONS, system: { type: 'string' } });
  if (values.help) {
    io.stdout.write(`${CHAT_HELP}\n`);
    return 0;
  }
  if (positionals.length) io.stderr.write(`wgllm chat: ignoring '${positionals.join(' ')}' (type messages in the chat; wgllm run takes a prompt)\n`);
  const sampling = samplingBody(values);
  const loaded = await loadModel(await modelSettings(values), io);
  const { engine, view } = loaded;
  const rl = createInterface({ input: io.stdin, output: io.stdout, terminal: io.stdin.isTTY === true, historySize: 200 });
  let reply: AbortController | undefined;
  // Ctrl-C stops the reply being written; at the prompt it ends the chat.
  rl.on('SIGINT', () => (reply ? reply.abort() : rl.close()));
  const system: Message[] = values.system !== undefined ? [{ role: 'system', content: values.system }] : [];
  let history: Message[] = [...system];
  try {
    if (!values['chat-template'] && !engine.tokenizer.chatTemplate) {
      throw new WgllmError('model_unsupported', `${engine.modelName} has no chat template: give one with --chat-template, or use 'wgllm run' for plain prompts`);
    }
    io.stderr.write(`chatting with ${engine.modelName} (/reset clears the history, /exit quits)\n`);
    rl.setPrompt('> ');
    rl.prompt();
    for await (const raw of rl) {
      const line = raw.trim();
      if (line === '/exit' || line === '/quit') break;
      if (line === '/reset') {
        history = [...system];
        io.stdout.write('(history cleared)\n');
      } else if (line === '/help') {
        io.stdout.write('/reset clears the history, /exit quits, Ctrl-C stops a reply\n');
      } else if (line.startsWith('/')) {
        io.stdout.write(`unknown command ${line}; /help lists them\n`);
      } else if (line) {
        history.push({ role: 'user', content: line });
        reply = new AbortController();
        const answer = await respond(history, sampling, reply.signal, (t) => io.stdout.write(t), (dropped) => {
          history = dropped;
          io.stderr.write('(the oldest turn was dropped to fit the context)\n');
        }).catch((e: unknown) => {
          if (!(e instanceof RequestError)) throw e;
          io.stderr.write(`error: ${e.message}\n`);
          history.pop();
          return undefined;
        });
        reply = undefined;
        io.stdout.write('\n');
        if (answer !== undefined) history.push({ role: 'assistant', content: answer });
      }
      rl.prompt();
    }
    return 0;
  } finally {
    rl.close();
    await loaded.close();
  }

  /** Streams one reply; a history over the context drops its oldest turn and tries again. */
  async function respond(msgs: Message[], body: Record<string, unknown>, signal: AbortSignal, write: (t: string) => void, onDrop: (m: Message[]) => void): Promise<string> {
    for (;;) {
      try {
        const stream = (await view.chat({ ...body, messages: msgs, stream: true }, { signal })) as AsyncIterable<Chunk>;
        let text = '';
        for await (const chunk of stream) {
          const t = chunk.choices[0]?.delta?.content ?? '';
          text += t;
          write(t);
        }
        return text;
      } catch (e) {
        const first = msgs.findIndex((m) => m.role !== 'system');
        // Drop the oldest exchange, never the message just typed.
        if (e instanceof RequestError && e.openaiCode === 'context_length_exceeded' && first >= 0 && first < msgs.length - 1) {
          const next = msgs[first + 1]?.role === 'assistant' ? 2 : 1;
          msgs = [...msgs.slice(0, first), ...msgs.slice(first + next)];
          onDrop(msgs);
          continue;
        }
        throw e;
      }
    }
  }
}
