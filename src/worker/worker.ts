/**
 * The Web Worker entry: hosts one engine and exposes it to the page through comlink. Start it
 * with `new Worker(new URL('wgllm/worker', import.meta.url), { type: 'module' })`, or let
 * `createWorkerEngine` do so. The GPU device, the model bytes and every step of the engine live
 * here, so the page's main thread never blocks on a model load or a long prompt.
 */
import { expose } from 'comlink';
import { EngineHost } from './host.js';
import { installErrorTransfer } from './protocol.js';

installErrorTransfer();
expose(new EngineHost());
