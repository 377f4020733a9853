/** The engine in a Web Worker: the page-side client and the message types. */
export { WorkerEngine, createWorkerEngine, startEngineWorker, type WorkerEngineOptions } from './client.js';
export { EngineHost, type EngineHostOptions } from './host.js';
export {
  installErrorTransfer,
  type LoadedModelInfo,
  type ModelSpec,
  type WorkerApi,
  type WorkerEvent,
  type WorkerLoadOptions,
  type WorkerLoadProgress,
} from './protocol.js';
