export { resolveSchedulerConfig } from './config.js';
export type { ResolvedSchedulerConfig, SchedulerConfig } from './config.js';
export type { RequestUpdate, ScheduledRequest, SchedulerOutput, SchedulerUpdate } from './output.js';
export { Request, RequestStatus, finishReason, isFinishedStatus } from './request.js';
export type { FinishedStatus, RequestInit, StopParams } from './request.js';
export { Scheduler } from './scheduler.js';
export { checkStop } from './stop.js';
export type { StopChecker } from './stop.js';
