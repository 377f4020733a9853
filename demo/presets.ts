/**
 * Models the demo offers. Hugging Face references resolve to `https://huggingface.co/<repo>/resolve/main/`
 * (see resolveModelUrl); the test fixtures exist only where the dev server serves ../shared/models
 * at /models/ (they are listed when it does).
 */
export interface ModelPreset {
  label: string;
  ref: string;
  /** shown in the list; a rough size so nobody starts a 1 GB download by accident */
  size: string;
}

export const WEB_MODELS: ModelPreset[] = [
  { label: 'SmolLM2 135M Instruct', ref: 'hf:HuggingFaceTB/SmolLM2-135M-Instruct', size: '270 MB' },
  { label: 'SmolLM2 360M Instruct', ref: 'hf:HuggingFaceTB/SmolLM2-360M-Instruct', size: '720 MB' },
  { label: 'Qwen2.5 0.5B Instruct (Q4_0 GGUF)', ref: 'hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_0.gguf', size: '430 MB' },
  { label: 'Qwen2.5 0.5B Instruct', ref: 'hf:Qwen/Qwen2.5-0.5B-Instruct', size: '990 MB' },
  { label: 'Qwen3 0.6B', ref: 'hf:Qwen/Qwen3-0.6B', size: '1.5 GB' },
];

export const FIXTURE_MODELS: ModelPreset[] = [
  { label: 'stories260K (GGUF, raw completion)', ref: '/models/stories260K/stories260K.gguf', size: '1.2 MB' },
  { label: 'stories260K (HF folder)', ref: '/models/stories260K-hf/', size: '1 MB' },
  { label: 'tiny-smollm2 Q8_0 (random weights, chat template)', ref: '/models/tiny-smollm2/tiny-smollm2-Q8_0.gguf', size: '5 MB' },
];

/** Whether the server this page came from serves the test fixtures. */
export async function fixturesAvailable(): Promise<boolean> {
  try {
    // One byte rather than HEAD: every static server answers ranges the same way.
    const r = await fetch(FIXTURE_MODELS[0]!.ref, { headers: { Range: 'bytes=0-0' } });
    await r.body?.cancel();
    return r.ok;
  } catch {
    return false;
  }
}
