/** What every task store takes besides where its database is: sizes that trade memory for speed. */
export interface TaskStoreTuning {
  /** The most inserts one group commit writes together; default DEFAULT_INSERT_BATCH_MAX (group-commit-queue.ts). */
  insertBatchMax?: number;
  /** The limit of the cache of decoded task views (TaskViewCache), in document bytes; default DEFAULT_TASK_VIEW_CACHE_BYTES. */
  viewCacheBytes?: number;
}
