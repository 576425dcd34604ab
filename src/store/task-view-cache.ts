import { View, type Task } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { decodeTask, shapeTask } from "./task-document.js";

/** Default TES_TASK_VIEW_CACHE_BYTES: 16 MiB of stored documents (a few thousand typical tasks). */
export const DEFAULT_TASK_VIEW_CACHE_BYTES = 16 * 1024 * 1024;

interface Entry {
  /** The stored document the views were decoded from; a view is reused only for these exact bytes. */
  document: Uint8Array;
  basic?: Task;
  full?: Task;
}

/**
 * Decoded BASIC and FULL views of recently read tasks, per process, so that polling an unchanged
 * task (GetTask every few seconds from Nextflow, Cromwell) does not decode its document each time.
 *
 * A view is reused only while the document the store just read is byte-for-byte the one it was
 * decoded from: an update from any process (a worker, another server) changes the document, so a
 * stale view is never served, and no invalidation is needed. The store applies the caller's scope
 * in its query before it asks here, so a view is never handed to a caller who could not read the row.
 *
 * Views are deeply frozen and shared between callers: they must never be changed (a change throws).
 * The limit counts the bytes of the stored documents held (decoded views take a few times that);
 * the least recently used tasks go first, and a document larger than the limit is not kept.
 */
export class TaskViewCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(readonly maxBytes: number = DEFAULT_TASK_VIEW_CACHE_BYTES) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new Error(`the task view cache limit must be a whole number of bytes >= 0, got ${maxBytes}`);
  }

  /** The BASIC or FULL view of task `id` stored as `document`; frozen, shared, never to be changed. */
  view(id: string, document: Uint8Array, view: View.BASIC | View.FULL): Task {
    let entry = this.entries.get(id);
    if (entry !== undefined && !sameBytes(entry.document, document)) {
      this.remove(id, entry);
      entry = undefined;
    }
    if (entry === undefined) {
      // A small Buffer may be a slice of a shared 8 KiB slab (pg decodes bytea so): keep a copy of
      // its own, so that the bytes counted are the bytes held.
      entry = { document: document.byteLength === document.buffer.byteLength ? document : Uint8Array.prototype.slice.call(document) };
      if (document.length <= this.maxBytes) {
        this.entries.set(id, entry);
        this.bytes += document.length;
        this.evictOverLimit();
      }
    } else {
      // Most recently used last: a Map iterates in insertion order, so eviction takes the first.
      this.entries.delete(id);
      this.entries.set(id, entry);
    }
    if (view === View.FULL) return (entry.full ??= deepFreeze(decodeTask(document)));
    return (entry.basic ??= deepFreeze(shapeTask(decodeTask(document), View.BASIC)));
  }

  /** Tasks held now. */
  get size(): number {
    return this.entries.size;
  }

  /** Bytes of stored documents held now (never above maxBytes). */
  get heldBytes(): number {
    return this.bytes;
  }

  private evictOverLimit(): void {
    for (const [id, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) return;
      this.remove(id, entry);
    }
  }

  private remove(id: string, entry: Entry): void {
    this.entries.delete(id);
    this.bytes -= entry.document.length;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** Freezes a decoded message and everything in it (arrays, maps as objects, nested messages, bytes aside). */
function deepFreeze<T extends object>(value: T): T {
  for (const key of Object.keys(value)) {
    const field = (value as Record<string, unknown>)[key];
    if (typeof field === "object" && field !== null && !ArrayBuffer.isView(field)) deepFreeze(field);
  }
  return Object.freeze(value);
}
