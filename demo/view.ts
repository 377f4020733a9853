/** The demo's display pieces: adapter line, load progress, status, errors, cached models. */
import type { DeviceInfo } from '../src/gpu/device-info.js';
import { formatBytes, type CachedModelFile, type StorageUsage } from '../src/platform/browser/model-cache.js';
import type { WorkerLoadProgress } from '../src/worker/protocol.js';
import { explain } from './errors.js';

export function $<T extends HTMLElement = HTMLElement>(sel: string): T {
  const el = document.querySelector<T>(sel);
  if (!el) throw new Error(`demo: no element ${sel}`);
  return el;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

export interface AdapterSummary {
  name: string;
  f16: boolean;
  subgroups: boolean;
  subgroupMatrix: boolean;
  fallback: boolean;
}

export function summarizeDevice(info: DeviceInfo): AdapterSummary {
  const name = [info.vendor, info.architecture, info.description || info.device].filter(Boolean).join(' · ') || 'unknown adapter';
  return { name, f16: info.features.f16, subgroups: info.features.subgroups, subgroupMatrix: info.features.subgroupMatrix, fallback: info.isFallbackAdapter };
}

/** The adapter as the page sees it before any model is loaded (the worker reports the same GPU). */
export async function probeAdapter(): Promise<AdapterSummary | undefined> {
  const adapter = await navigator.gpu?.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return undefined;
  const i = adapter.info;
  return {
    name: [i.vendor, i.architecture, i.description || i.device].filter(Boolean).join(' · ') || 'unknown adapter',
    f16: adapter.features.has('shader-f16'),
    subgroups: adapter.features.has('subgroups'),
    subgroupMatrix: adapter.features.has('chromium-experimental-subgroup-matrix'),
    fallback: Boolean((i as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter),
  };
}

export function showAdapter(a: AdapterSummary, act?: string): void {
  const box = $('#adapter');
  box.replaceChildren(`GPU: ${a.name}${a.fallback ? ' (software)' : ''}`);
  const badge = (label: string, on: boolean, key: string) => {
    const b = el('span', { class: `badge ${on ? 'on' : 'off'}`, 'data-feature': key, 'data-on': String(on), title: on ? `${label}: yes` : `${label}: no` }, label);
    box.append(b);
  };
  badge('f16', a.f16, 'f16');
  badge('subgroups', a.subgroups, 'subgroups');
  badge('subgroup-matrix', a.subgroupMatrix, 'subgroup-matrix');
  if (act) box.append(el('span', { class: 'badge on', 'data-act': act }, `${act} activations`));
}

export function setStatus(state: 'idle' | 'loading' | 'ready' | 'generating' | 'error', text: string): void {
  const s = $('#status');
  s.dataset.state = state;
  s.textContent = text;
}

export function showError(e: unknown): void {
  const p = explain(e);
  const box = $('#error');
  box.replaceChildren(el('strong', {}, p.title), el('p', {}, p.action), el('p', { class: 'muted' }, p.detail));
  box.dataset.code = String((e as { code?: unknown } | null)?.code ?? '');
  box.hidden = false;
  setStatus('error', p.title);
}

export function clearError(): void {
  $('#error').hidden = true;
}

/** The load progress panel: one bar per phase. */
export class ProgressView {
  private readonly panel = $('#progress-panel');

  start(model: string): void {
    this.panel.hidden = false;
    this.panel.querySelector('h2')!.firstChild!.textContent = 'Loading ';
    $('#progress-model').textContent = model;
    for (const ph of this.panel.querySelectorAll<HTMLElement>('.phase')) {
      ph.classList.remove('done');
      ph.querySelector('progress')!.value = 0;
      ph.querySelector('progress')!.removeAttribute('value');
      ph.querySelector('small')!.textContent = '';
    }
  }

  private set(phase: string, value: number | undefined, text: string, done = false): void {
    const ph = this.panel.querySelector<HTMLElement>(`.phase[data-phase="${phase}"]`);
    if (!ph) return;
    const bar = ph.querySelector('progress')!;
    if (value === undefined) bar.removeAttribute('value');
    else bar.value = value;
    ph.querySelector('small')!.textContent = text;
    ph.classList.toggle('done', done);
  }

  update(p: WorkerLoadProgress): void {
    switch (p.phase) {
      case 'download': {
        const name = p.file.split('/').pop() ?? p.file;
        const total = p.bytesTotal;
        if (p.cached) this.set('download', 1, `${name}: from the cache (${formatBytes(p.bytesDone)})`, true);
        else this.set('download', total ? p.bytesDone / total : undefined, `${name}: ${formatBytes(p.bytesDone)}${total ? ` of ${formatBytes(total)}` : ''}`, total !== undefined && p.bytesDone >= total);
        break;
      }
      case 'open': {
        // Picked files have no download: say where the model came from instead.
        const dl = this.panel.querySelector<HTMLElement>('.phase[data-phase="download"]');
        if (!dl?.classList.contains('done')) this.set('download', 1, `opened ${p.model}`, true);
        break;
      }
      case 'upload':
        this.set('upload', p.bytesTotal ? p.bytesDone / p.bytesTotal : 1, `${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}`, p.bytesDone >= p.bytesTotal);
        break;
      case 'compile':
        this.set('compile', undefined, 'building GPU pipelines…');
        break;
      case 'tune': {
        const ev = p.event;
        if (ev.type === 'candidate') this.set('tune', ev.planned ? ev.done / ev.planned : undefined, `${ev.kernel} ${ev.problem}: ${ev.done}/${ev.planned}`);
        else if (ev.type === 'tune-start') this.set('tune', 0, `${ev.kernel} ${ev.problem}: ${ev.candidates} candidates`);
        break;
      }
      case 'ready':
        this.panel.querySelector('h2')!.firstChild!.textContent = 'Loaded ';
        this.set('compile', 1, `ready in ${(p.ms / 1000).toFixed(1)} s`, true);
        for (const ph of ['download', 'upload', 'tune']) {
          const bar = this.panel.querySelector<HTMLProgressElement>(`.phase[data-phase="${ph}"] progress`);
          if (bar && !bar.hasAttribute('value')) this.set(ph, 1, ph === 'tune' ? 'nothing to tune (cached or off)' : '', true);
        }
        break;
      case 'device':
        break;
    }
  }
}

export function showCache(files: CachedModelFile[], usage: StorageUsage | undefined, onDelete: (url: string) => void): void {
  const list = $('#cache-list');
  list.replaceChildren();
  if (!files.length) list.append(el('li', { class: 'muted' }, 'Nothing cached yet.'));
  for (const f of files) {
    const li = el('li', { 'data-url': f.url, title: f.url });
    const name = new URL(f.url).pathname.split('/').slice(-2).join('/');
    const del = el('button', { type: 'button', 'aria-label': `Delete ${name}` }, 'Delete');
    del.addEventListener('click', () => onDelete(f.url));
    li.append(el('span', { class: 'name' }, name), el('span', { class: 'muted' }, formatBytes(f.bytes)), del);
    list.append(li);
  }
  $('#storage').textContent = usage ? `This site uses ${formatBytes(usage.usage)} of ${formatBytes(usage.quota)} of browser storage.` : '';
}
