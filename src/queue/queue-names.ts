/**
 * The BullMQ queues between the API and the worker pool, all under one key prefix. Submissions and
 * cancellations have their own queues so a cancel never waits behind a backlog of submissions;
 * the periodic queue carries the job schedulers' ticks (bulk polls, recovery sweeps).
 */
export const SUBMIT_QUEUE = "submit";
export const CANCEL_QUEUE = "cancel";
export const PERIODIC_QUEUE = "periodic";
