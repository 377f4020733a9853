import { version } from '../package.json';

/** The engine version: part of every tune-cache key, so an upgrade never reuses stale tunings. */
export const WGLLM_VERSION: string = version;
