import { WgllmError } from '../core/errors.js';
import { byteLevelToBytes } from './byte-level.js';
import { parseByteToken } from './spm.js';

/**
 * Compiles the `decoder` section of an HF tokenizer.json into a per-token byte rule.
 *
 * HF decoders work on the whole list of token strings, but the ones LLMs use are per-token maps
 * followed by a concatenation (Fuse) and a strip of the first space(s). Expressed per token, they
 * let the streaming detokenizer emit text as tokens arrive and still agree with `decode()`.
 * Supported: ByteLevel (GPT-2, Llama 3, Qwen, SmolLM), Metaspace, and Sequences of Replace
 * (plain string), ByteFallback, Fuse, Strip (leading spaces) (Llama 2, Mistral, Gemma).
 */
export interface PieceDecoder {
  pieceBytes(token: string): Uint8Array;
  leadingSpacesToStrip: number;
}

type Json = Record<string, unknown>;

const utf8 = new TextEncoder();

export function compileHfDecoder(decoder: unknown): PieceDecoder {
  let byteLevel = false;
  let byteFallback = false;
  let strip = 0;
  const replaces: [string, string][] = [];

  const unsupported = (why: string): never => {
    throw new WgllmError(
      'model_unsupported',
      `tokenizer.json decoder ${why} is not supported (supported: ByteLevel, Metaspace, Sequence of Replace/ByteFallback/Fuse/Strip)`,
    );
  };

  const visit = (d: unknown): void => {
    if (d === null || typeof d !== 'object') return unsupported(String(d));
    const cfg = d as Json;
    switch (cfg.type) {
      case 'ByteLevel':
        byteLevel = true;
        return;
      case 'Metaspace': {
        const rep = typeof cfg.replacement === 'string' ? cfg.replacement : '\u2581';
        replaces.push([rep, ' ']);
        // The decoder removes the space the encoder prepended unless it never prepends one.
        const scheme = cfg.prepend_scheme ?? (cfg.add_prefix_space === false ? 'never' : 'always');
        if (scheme !== 'never') strip = Math.max(strip, 1);
        return;
      }
      case 'Replace': {
        const pattern = (cfg.pattern as Json | undefined)?.String;
        if (typeof pattern !== 'string' || typeof cfg.content !== 'string') {
          return unsupported('Replace with a regex pattern');
        }
        replaces.push([pattern, cfg.content]);
        return;
      }
      case 'ByteFallback':
        byteFallback = true;
        return;
      case 'Fuse':
        return; // concatenation is what decoding does anyway
      case 'Strip': {
        if (cfg.content !== ' ' || (typeof cfg.stop === 'number' && cfg.stop > 0)) {
          return unsupported(`Strip(${JSON.stringify(cfg.content)}, stop=${String(cfg.stop)})`);
        }
        strip = typeof cfg.start === 'number' ? cfg.start : 0;
        return;
      }
      case 'Sequence': {
        const list = cfg.decoders;
        if (!Array.isArray(list)) return unsupported('Sequence without decoders');
        for (const item of list) visit(item);
        return;
      }
      default:
        return unsupported(String(cfg.type));
    }
  };
  visit(decoder);

  const pieceBytes = (token: string): Uint8Array => {
    if (byteFallback) {
      const b = parseByteToken(token);
      if (b !== undefined) return Uint8Array.of(b);
    }
    if (byteLevel) return byteLevelToBytes(token);
    let text = token;
    for (const [from, to] of replaces) text = text.replaceAll(from, to);
    return utf8.encode(text);
  };
  return { pieceBytes, leadingSpacesToStrip: strip };
}
