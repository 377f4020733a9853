/**
 * Corrections applied to a tokenizer.json before @huggingface/tokenizers (JS) sees it, where that
 * library differs from the Rust `tokenizers` that produced the models' reference ids.
 *
 * ByteLevel with use_regex: the JS library splits with a JS regex whose `\s` also matches U+FEFF
 * and misses U+0085, while Rust's Oniguruma `\s` is Unicode White_Space. So "\uFEFF'll" becomes
 * ["\uFEFF", "'ll"] in JS but ["\uFEFF'", "ll"] in Rust (and llama.cpp). The same pattern given
 * as a Split pre-tokenizer goes through the library's Oniguruma-to-JS rewrite (`\s` ->
 * `\p{White_Space}`) and splits as Rust does; Rust's ByteLevel is exactly that Split (Isolated)
 * followed by the byte mapping.
 */

type Json = Record<string, unknown>;

/** The GPT-2 pattern Rust's ByteLevel pre-tokenizer uses. */
const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

export function withRustCompatiblePreTokenizer(tokenizerJson: Json): Json {
  const pre = fix(tokenizerJson.pre_tokenizer);
  return pre === tokenizerJson.pre_tokenizer ? tokenizerJson : { ...tokenizerJson, pre_tokenizer: pre };
}

function fix(pre: unknown): unknown {
  if (pre === null || typeof pre !== 'object') return pre;
  const cfg = pre as Json;
  if (cfg.type === 'Sequence' && Array.isArray(cfg.pretokenizers)) {
    const list = cfg.pretokenizers.map(fix);
    return list.every((p, i) => p === (cfg.pretokenizers as unknown[])[i]) ? pre : { ...cfg, pretokenizers: list };
  }
  // With add_prefix_space the space is added before the regex runs, once per incoming piece;
  // splitting first would add it to every regex piece, so that case is left alone.
  if (cfg.type === 'ByteLevel' && cfg.use_regex !== false && cfg.add_prefix_space !== true) {
    return {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: GPT2_PATTERN }, behavior: 'Isolated', invert: false },
        { ...cfg, use_regex: false },
      ],
    };
  }
  return pre;
}
