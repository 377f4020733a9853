import { WgllmError } from '../core/errors.js';
import { TextAssembler } from './text-assembler.js';
import type {
  DecodeOptions,
  EncodeOptions,
  SpecialToken,
  SpecialTokenIds,
  Tokenizer,
  TokenizerKind,
} from './types.js';

/** What every implementation hands to `BaseTokenizer`. */
export interface BaseInit {
  kind: TokenizerKind;
  /** vocabulary string per id; a hole (undefined) is an id the model does not use */
  tokens: readonly (string | undefined)[];
  /** ids that `skipSpecialTokens` removes */
  special: ReadonlySet<number>;
  specialTokenIds: SpecialTokenIds;
  chatTemplate: string | undefined;
  leadingSpacesToStrip: number;
  /** the bytes one token decodes to; called once per id, lazily */
  pieceBytes: (id: number, token: string) => Uint8Array;
}

/**
 * Shared vocabulary bookkeeping, input checks and decoding; subclasses implement `encodeText`.
 */
export abstract class BaseTokenizer implements Tokenizer {
  readonly kind: TokenizerKind;
  readonly vocabSize: number;
  readonly specialTokenIds: Readonly<SpecialTokenIds>;
  readonly specialTokens: readonly SpecialToken[];
  readonly chatTemplate: string | undefined;
  readonly leadingSpacesToStrip: number;

  protected readonly tokens: readonly (string | undefined)[];
  protected readonly ids: Map<string, number>;
  private readonly special: ReadonlySet<number>;
  private readonly bytesCache: (Uint8Array | undefined)[];
  private readonly pieceBytes: BaseInit['pieceBytes'];

  constructor(init: BaseInit) {
    this.kind = init.kind;
    this.tokens = init.tokens;
    this.vocabSize = init.tokens.length;
    this.special = init.special;
    this.specialTokenIds = Object.freeze({ ...init.specialTokenIds });
    this.chatTemplate = init.chatTemplate;
    this.leadingSpacesToStrip = init.leadingSpacesToStrip;
    this.pieceBytes = init.pieceBytes;
    this.bytesCache = new Array<Uint8Array | undefined>(this.vocabSize);
    // A string listed twice maps to its last id, as in llama.cpp's token_to_id.
    this.ids = new Map();
    init.tokens.forEach((t, id) => {
      if (t !== undefined) this.ids.set(t, id);
    });
    this.specialTokens = [...init.special]
      .sort((a, b) => a - b)
      .map((id) => ({ id, content: init.tokens[id] ?? '' }));
  }

  get bosTokenId(): number | undefined {
    return this.specialTokenIds.bos;
  }

  get eosTokenId(): number | undefined {
    return this.specialTokenIds.eos;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') {
      throw new WgllmError('invalid_argument', `encode() takes a string, got ${typeof text}`);
    }
    return this.encodeText(text, options.addSpecialTokens ?? true);
  }

  /** `text` as ids; `addSpecial`: add BOS/EOS as the model's config says. */
  protected abstract encodeText(text: string, addSpecial: boolean): number[];

  decode(ids: Iterable<number>, options: DecodeOptions = {}): string {
    const out = new TextAssembler(this, options.skipSpecialTokens ?? false);
    return out.push(ids) + out.flush();
  }

  idToToken(id: number): string | undefined {
    return Number.isInteger(id) ? this.tokens[id] : undefined;
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  isSpecialToken(id: number): boolean {
    return this.special.has(id);
  }

  tokenBytes(id: number): Uint8Array {
    let bytes = this.bytesCache[id];
    if (bytes !== undefined) return bytes;
    const token = Number.isInteger(id) ? this.tokens[id] : undefined;
    if (token === undefined) {
      throw new WgllmError(
        'invalid_argument',
        `token id ${id} is not in this ${this.vocabSize}-token vocabulary; pass ids the model produced`,
      );
    }
    bytes = this.pieceBytes(id, token);
    this.bytesCache[id] = bytes;
    return bytes;
  }
}
