/**
 * Errors in plain words: what happened and what to do. The engine's errors carry a stable
 * `code` (they keep it across the worker boundary); anything else is shown by its message.
 */
export interface PlainError {
  title: string;
  detail: string;
  action: string;
}

function codeOf(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

export function explain(e: unknown): PlainError {
  const detail = e instanceof Error ? e.message : String(e);
  switch (codeOf(e)) {
    case 'no_webgpu':
      return {
        title: 'This browser has no WebGPU.',
        detail,
        action: 'Open the page in a recent Chrome or Edge (113+), or Safari 26+, over https or on localhost. In Firefox, turn on dom.webgpu.enabled.',
      };
    case 'no_adapter':
    case 'device_request_failed':
      return {
        title: 'WebGPU is here, but no GPU could be used.',
        detail,
        action: 'Turn on hardware acceleration in the browser settings, update the GPU driver, and check chrome://gpu for a blocklisted GPU.',
      };
    case 'out_of_memory':
      if (/storage/i.test(detail)) {
        return { title: 'Browser storage is full.', detail, action: 'Delete cached models in the list on the left, or turn off "Keep downloads in the browser cache" and load again.' };
      }
      return {
        title: 'The GPU ran out of memory.',
        detail,
        action: 'Pick a smaller model or a smaller quantization (Q4_0), lower the context length in Load options, or close other tabs that use the GPU.',
      };
    case 'device_lost':
      return {
        title: 'The GPU device was lost.',
        detail,
        action: 'The driver reset or another program took the GPU. Load the model again; if it keeps happening, pick a smaller model.',
      };
    case 'model_format':
    case 'model_unsupported':
    case 'unsupported':
      return {
        title: 'This model cannot be run here.',
        detail,
        action: 'wgllm runs Llama, Qwen2 and Qwen3 style models as GGUF (F32, F16, Q8_0, Q4_0, Q4_K) or Hugging Face safetensors folders. Try another file or quantization.',
      };
    case 'not_found':
      return { title: 'A model file could not be read.', detail, action: 'Check the address (the server must allow cross-origin requests), or pick the files again.' };
    case 'shader_compile':
      return { title: 'A GPU program failed to compile on this adapter.', detail, action: 'Try "Activations: f32" in Load options, or update the browser.' };
    case 'invalid_argument':
      return { title: 'The request was refused.', detail, action: 'Check the message and settings (max tokens, context length), then try again.' };
    default:
      return { title: 'Something went wrong.', detail, action: 'Try again; if it persists, reload the page and load the model again.' };
  }
}
