import { BaseTokenizer } from './base.js';
import { splitOnSpecialTokens } from './special-split.js';
import type { SpmVocab } from './spm.js';
import { spmEncode, spmEscape, spmPieceBytes } from './spm.js';
import type { SpecialToken, SpecialTokenIds, TokenizerKind } from './types.js';

/**
 * SentencePiece-style tokenizer over a vocabulary with scores: GGUF `tokenizer.ggml.model =
 * llama` and llama2.c's tokenizer.bin. Encoding follows llama.cpp's SPM path (a space is
 * prepended to the text and after every special token, spaces become '▁', merge by score,
 * byte fallback); decoding maps '▁' back to spaces and <0xNN> to bytes.
 */
export interface SpmTokenizerInit {
  kind: TokenizerKind;
  /** vocabulary strings, spaces written as '▁' */
  tokens: readonly string[];
  scores: ArrayLike<number>;
  /** ids of byte-fallback tokens <0xNN> */
  byteTokens: ReadonlySet<number>;
  /** ids that decode as literal text and that `skipSpecialTokens` may drop */
  special: ReadonlySet<number>;
  /** tokens recognised when written literally in the input text (llama.cpp: control, user-defined, unknown) */
  matchInText: readonly SpecialToken[];
  /** user-defined tokens: literal text when decoding, but not special */
  literal: ReadonlySet<number>;
  specialTokenIds: SpecialTokenIds;
  addBos: boolean;
  addEos: boolean;
  addSpacePrefix: boolean;
  chatTemplate: string | undefined;
}

export class SpmTokenizer extends BaseTokenizer {
  private readonly vocab: SpmVocab;
  private readonly matchInText: readonly SpecialToken[];
  private readonly addBos: boolean;
  private readonly addEos: boolean;
  private readonly addSpacePrefix: boolean;

  constructor(init: SpmTokenizerInit) {
    super({
      kind: init.kind,
      tokens: init.tokens,
      special: init.special,
      specialTokenIds: init.specialTokenIds,
      chatTemplate: init.chatTemplate,
      leadingSpacesToStrip: init.addSpacePrefix ? 1 : 0,
      pieceBytes: (id, token) =>
        init.special.has(id) || init.literal.has(id)
          ? utf8.encode(token)
          : spmPieceBytes(token, init.byteTokens.has(id)),
    });
    const byteIds = new Int32Array(256).fill(-1);
    for (const id of init.byteTokens) {
      const b = spmPieceBytes(init.tokens[id]!, true);
      if (b.length === 1) byteIds[b[0]!] = id;
    }
    this.vocab = { ids: this.ids, scores: init.scores, byteIds, unkId: init.specialTokenIds.unk };
    this.matchInText = init.matchInText;
    this.addBos = init.addBos;
    this.addEos = init.addEos;
    this.addSpacePrefix = init.addSpacePrefix;
  }

  protected encodeText(text: string, addSpecial: boolean): number[] {
    const { bos, eos } = this.specialTokenIds;
    const out: number[] = [];
    if (addSpecial && this.addBos && bos !== undefined) out.push(bos);
    let afterSpecial = true; // the start of the text counts as "after a special token"
    for (const f of splitOnSpecialTokens(text, this.matchInText)) {
      if (typeof f === 'number') {
        out.push(f);
        afterSpecial = true;
      } else {
        const prefixed = this.addSpacePrefix && afterSpecial ? ' ' + f : f;
        spmEncode(spmEscape(prefixed), this.vocab, out);
        afterSpecial = false;
      }
    }
    if (addSpecial && this.addEos && eos !== undefined) out.push(eos);
    return out;
  }
}

const utf8 = new TextEncoder();
