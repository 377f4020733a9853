export { ModelRunner, type RunnerOptions, type RunnerLimits, type RunnerStep } from './runner.js';
export { openModelFiles, type LoadedModelFiles } from './open.js';
export { defaultConfigs, type ConfigSource } from './config-source.js';
export * from './formats/index.js';
