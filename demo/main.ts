/**
 * The wgllm chat demo: the engine runs in a Web Worker (src/worker), this page only shows it.
 * Query parameters, for links and tests: model (URL or hf: reference, loaded at once), act
 * (f16|f32), ctx (context length), cache=0 (range requests, nothing stored), tune=1, mode
 * (chat|raw), maxTokens, temperature.
 */
import { BrowserModelCache } from '../src/platform/browser/model-cache.js';
import { createWorkerEngine, type WorkerEngine } from '../src/worker/client.js';
import type { ModelSpec } from '../src/worker/protocol.js';
import { Conversation, showStats, type ChatMode } from './chat.js';
import { FIXTURE_MODELS, WEB_MODELS, fixturesAvailable, type ModelPreset } from './presets.js';
import { $, ProgressView, clearError, el, probeAdapter, setStatus, showAdapter, showCache, showError, summarizeDevice } from './view.js';

const q = new URLSearchParams(location.search);
const progress = new ProgressView();
const modelCache = new BrowserModelCache();
let engine: WorkerEngine | undefined;
let convo: Conversation | undefined;
let loading = false;

const input = $<HTMLTextAreaElement>('#input');
const sendBtn = $<HTMLButtonElement>('#send');
const stopBtn = $<HTMLButtonElement>('#stop');
const modeInputs = [...document.querySelectorAll<HTMLInputElement>('input[name="mode"]')];

function num(sel: string, fallback: number): number {
  const v = Number($<HTMLInputElement>(sel).value);
  return Number.isFinite(v) ? v : fallback;
}

function mode(): ChatMode {
  return modeInputs.find((m) => m.checked)?.value === 'raw' ? 'raw' : 'chat';
}

function setMode(m: ChatMode, chatAllowed = true): void {
  for (const r of modeInputs) {
    r.checked = r.value === m;
    if (r.value === 'chat') r.disabled = !chatAllowed;
  }
  input.placeholder = m === 'raw' ? 'Write the start of a text; the model continues it…' : 'Write a message…';
}

function setBusy(generating: boolean): void {
  const ready = Boolean(engine) && !loading;
  input.disabled = !ready;
  sendBtn.disabled = !ready || generating;
  stopBtn.disabled = !generating;
  for (const b of document.querySelectorAll<HTMLButtonElement | HTMLInputElement>('#load-url, #pick-files, #pick-folder')) b.disabled = loading;
}

async function refreshCache(): Promise<void> {
  if (!BrowserModelCache.available()) {
    $('#storage').textContent = 'The Cache API is not available here (it needs https or localhost): models are not kept.';
    return;
  }
  try {
    showCache(await modelCache.list(), await modelCache.usage(), (url) => {
      void modelCache.delete(url).then(refreshCache, showError);
    });
  } catch (e) {
    showError(e);
  }
}

async function load(spec: ModelSpec, label: string): Promise<void> {
  if (loading) return;
  loading = true;
  clearError();
  convo?.stop();
  const old = engine;
  engine = convo = undefined;
  setBusy(false);
  await old?.dispose().catch(() => undefined);
  progress.start(label);
  setStatus('loading', `Loading ${label}…`);
  $('#model-name').textContent = label;
  const act = (q.get('act') ?? $<HTMLSelectElement>('#opt-act').value) || undefined;
  try {
    engine = await createWorkerEngine({
      model: 'url' in spec ? { ...spec, cache: $<HTMLInputElement>('#opt-cache').checked } : spec,
      ...(act === 'f16' || act === 'f32' ? { act } : {}),
      maxModelLen: num('#opt-ctx', 2048),
      tune: $<HTMLInputElement>('#opt-tune').checked ? 'auto' : 'off',
      onProgress: (p) => {
        progress.update(p);
        if (p.phase === 'device') showAdapter(summarizeDevice(p.info));
      },
      onEvent: (e) => {
        if (e.type !== 'device-lost') return;
        showError(Object.assign(new Error(e.message), { code: 'device_lost' }));
        engine = undefined;
        setBusy(false);
      },
    });
    const info = engine.info;
    showAdapter(summarizeDevice(info.device), info.act);
    convo = new Conversation(engine);
    convo.clear();
    $('#model-name').textContent = `${info.modelName} · context ${info.maxModelLen}`;
    const wanted = q.get('mode');
    setMode(info.hasChatTemplate && wanted !== 'raw' ? 'chat' : 'raw', info.hasChatTemplate);
    if (!info.hasChatTemplate) $('#messages .empty').textContent = 'This model has no chat template: raw completion continues the text you write.';
    setStatus('ready', `Ready: ${info.modelName} loaded in ${(info.loadMs / 1000).toFixed(1)} s.`);
  } catch (e) {
    engine = undefined;
    showError(e);
  } finally {
    loading = false;
    setBusy(false);
    void refreshCache();
  }
}

async function send(): Promise<void> {
  const text = input.value;
  if (!convo || !text.trim() || convo.busy) return;
  clearError();
  input.value = '';
  setBusy(true);
  setStatus('generating', 'Generating…');
  try {
    const temperature = num('#temperature', 0.7);
    const r = await convo.send(text, { mode: mode(), maxTokens: Math.max(1, Math.floor(num('#max-tokens', 256))), temperature: Math.max(0, temperature) });
    showStats(r);
    setStatus('ready', 'Ready.');
  } catch (e) {
    showError(e);
  } finally {
    setBusy(false);
    input.focus();
  }
}

function fillPresets(fixtures: boolean): void {
  const sel = $<HTMLSelectElement>('#preset');
  const group = (label: string, presets: ModelPreset[]) => {
    const g = el('optgroup', { label });
    for (const p of presets) g.append(el('option', { value: p.ref }, `${p.label} — ${p.size}`));
    sel.append(g);
  };
  sel.replaceChildren(el('option', { value: '' }, 'Choose a model…'));
  group('Hugging Face', WEB_MODELS);
  if (fixtures) group('Test fixtures (this server)', FIXTURE_MODELS);
  sel.addEventListener('change', () => ($<HTMLInputElement>('#model-url').value = sel.value));
}

function wire(): void {
  $('#load-url').addEventListener('click', () => {
    const ref = $<HTMLInputElement>('#model-url').value.trim();
    if (ref) void load({ url: ref }, ref.split('/').filter(Boolean).pop() ?? ref);
  });
  for (const sel of ['#pick-files', '#pick-folder']) {
    const picker = $<HTMLInputElement>(sel);
    picker.addEventListener('change', () => {
      const files = [...(picker.files ?? [])];
      picker.value = '';
      const label = files[0]?.webkitRelativePath.split('/')[0] || files.find((f) => /\.(gguf|bin)$/i.test(f.name))?.name || `${files.length} files`;
      if (files.length) void load({ files }, label);
    });
  }
  $('#composer').addEventListener('submit', (e) => {
    e.preventDefault();
    void send();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      void send();
    }
  });
  stopBtn.addEventListener('click', () => convo?.stop());
  $('#new-chat').addEventListener('click', () => convo?.clear());
  for (const r of modeInputs) r.addEventListener('change', () => setMode(mode(), !r.disabled));
  window.addEventListener('unhandledrejection', (e) => showError(e.reason));
}

async function main(): Promise<void> {
  wire();
  for (const [param, sel] of [['maxTokens', '#max-tokens'], ['temperature', '#temperature'], ['ctx', '#opt-ctx']] as const) {
    const v = q.get(param);
    if (v !== null) $<HTMLInputElement>(sel).value = v;
  }
  if (q.get('act')) $<HTMLSelectElement>('#opt-act').value = q.get('act')!;
  if (q.get('cache') === '0') $<HTMLInputElement>('#opt-cache').checked = false;
  if (q.get('tune') === '1') $<HTMLInputElement>('#opt-tune').checked = true;
  setMode(q.get('mode') === 'raw' ? 'raw' : 'chat');
  setBusy(false);
  fillPresets(await fixturesAvailable());
  void refreshCache();
  if (!navigator.gpu) {
    $('#adapter').textContent = 'WebGPU: not available in this browser';
    showError(Object.assign(new Error('navigator.gpu is undefined'), { code: 'no_webgpu' }));
    return;
  }
  const adapter = await probeAdapter().catch(() => undefined);
  if (!adapter) {
    $('#adapter').textContent = 'WebGPU: no adapter';
    showError(Object.assign(new Error('navigator.gpu.requestAdapter() returned null'), { code: 'no_adapter' }));
    return;
  }
  showAdapter(adapter);
  const model = q.get('model');
  if (model) {
    $<HTMLInputElement>('#model-url').value = model;
    await load({ url: model }, model.split('/').filter(Boolean).pop() ?? model);
  } else setStatus('idle', 'Pick a model to start.');
}

void main();
