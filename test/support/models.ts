import { readFileSync } from 'node:fs';
import path from 'node:path';
import { openModelFiles, type LoadedModelFiles } from '../../src/model/open.js';
import { openLocalModel } from '../../src/platform/node/model-location.js';

/** The shared model fixtures, beside the repository (never copied into it). */
export const MODELS = path.resolve(__dirname, '../../../shared/models');

export function modelPath(rel: string): string {
  return path.join(MODELS, rel);
}

export async function openFixture(rel: string): Promise<LoadedModelFiles> {
  return openModelFiles(await openLocalModel(modelPath(rel)));
}

export function readJson<T = unknown>(rel: string): T {
  return JSON.parse(readFileSync(modelPath(rel), 'utf8')) as T;
}
