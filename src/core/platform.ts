/**
 * The seam between the engine and its runtime. Everything that differs between Node and the
 * browser (how a GPU is obtained, how bytes are read, where caches live) is behind this
 * interface; the implementations live in src/platform/ and are injected, never imported by
 * the layers below.
 */

export interface AdapterOptions {
  powerPreference?: GPUPowerPreference;
  /** substring of the adapter's name/description to pick (Node: Dawn's adapter option) */
  adapterName?: string;
  /** allow a software adapter (SwiftShader) when no hardware one exists */
  allowFallback?: boolean;
}

export interface AcquiredAdapter {
  adapter: GPUAdapter;
  /** e.g. 'dawn-node/webgpu@0.6.2' or the browser's user agent product */
  runtime: string;
  /** the WGSL language features of the GPU object that gave the adapter (GPU.wgslLanguageFeatures) */
  wgslFeatures?: ReadonlySet<string>;
}

/** Random-access reads of a model file or URL, so large files never sit whole in memory. */
export interface ByteSource {
  readonly name: string;
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Optional: reads [offset, offset + target.byteLength) into `target`, so that a caller
   * streaming many chunks (the weight upload) reuses one buffer. Without it, every chunk is a
   * fresh allocation, and in Node each large one counts as external memory that makes V8 run a
   * full collection (an 8B model's load ran ~90 of them, 30-100 ms each).
   */
  readInto?(offset: number, target: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Opens a file of a model folder by its path relative to the folder; rejects with a
 * WgllmError 'not_found' when it does not exist. */
export type OpenFile = (relPath: string) => Promise<ByteSource>;

/**
 * Where a model's bytes are: a single file (GGUF, llama2.c .bin) with access to its siblings
 * (llama2.c keeps its tokenizer beside the weights), or a Hugging Face-layout folder.
 */
export type ModelLocation =
  | { kind: 'file'; name: string; source: ByteSource; openSibling?: OpenFile }
  | { kind: 'folder'; name: string; openFile: OpenFile };

/** String key/value storage (tune cache): a JSON file per key in Node, IndexedDB in the browser. */
export interface KeyValueStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  keys(): Promise<string[]>;
}

export interface Platform {
  readonly name: 'node' | 'browser';
  requestAdapter(opts?: AdapterOptions): Promise<AcquiredAdapter>;
  /** resolves a model reference (a path in Node; a URL or picked files in a browser) */
  openModel?(ref: string): Promise<ModelLocation>;
  tuneStore?: KeyValueStore;
}
