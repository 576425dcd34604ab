import { View, type State, type Task } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { decodeTask, minimalTask, shapeTask } from "./task-document.js";

/** Default TES_TASK_VIEW_CACHE_BYTES: 16 MiB of stored documents (a few thousand typical tasks). */
export const DEFAULT_TASK_VIEW_CACHE_BYTES = 16 * 1024 * 1024;

/** What a task that only MINIMAL views were asked for counts against the limit: its id, its state and their JSON. */
export const MINIMAL_ENTRY_BYTES = 128;

interface Entry {
  /**
   * The stored document BASIC and FULL were decoded from; they are reused only for these exact
   * bytes. Undefined while only MINIMAL was asked for.
   */
  document?: Uint8Array;
  basic?: Task;
  full?: Task;
  /** Reused while the state the store reads is this view's state: id and state are all it holds. */
  minimal?: Task;
}

/**
 * Decoded BASIC and FULL views of recently read tasks, per process, so that polling an unchanged
 * task (GetTask every few seconds from Nextflow, Cromwell) does not decode its document each time.
 * MINIMAL views are kept too: they are built from the state column alone, but a shared frozen view
 * lets the REST writer reuse its JSON text (see tesJsonBody) instead of writing it for every poll.
 *
 * A view is reused only while the document the store just read is byte-for-byte the one it was
 * decoded from: an update from any process (a worker, another server) changes the document, so a
 * stale view is never served, and no invalidation is needed. The store applies the caller's scope
 * in its query before it asks here, so a view is never handed to a caller who could not read the row.
 *
 * Views are deeply frozen and shared between callers: they must never be changed (a change throws).
 * The limit counts the bytes of the stored documents held (decoded views take a few times that),
 * and MINIMAL_ENTRY_BYTES for a task held for MINIMAL alone; the least recently used tasks go
 * first, and a document larger than the limit is not kept.
 */
export class TaskViewCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(readonly maxBytes: number = DEFAULT_TASK_VIEW_CACHE_BYTES) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new Error(`the task view cache limit must be a whole number of bytes >= 0, got ${maxBytes}`);
  }

  /** The BASIC or FULL view of task `id` stored as `document`; frozen, shared, never to be changed. */
  view(id: string, document: Uint8Array, view: View.BASIC | View.FULL): Task {
    let entry = this.touch(id);
    if (entry?.document === undefined || !sameBytes(entry.document, document)) {
      if (entry !== undefined) this.remove(id, entry);
      // A small Buffer may be a slice of a shared 8 KiB slab (pg decodes bytea so): keep a copy of
      // its own, so that the bytes counted are the bytes held. The MINIMAL view stays: it is
      // checked against the state on every read.
      const own = document.byteLength === document.buffer.byteLength ? document : Uint8Array.prototype.slice.call(document);
      entry = this.add(id, { document: own, minimal: entry?.minimal });
    }
    if (view === View.FULL) return (entry.full ??= deepFreeze(decodeTask(document)));
    return (entry.basic ??= deepFreeze(shapeTask(decodeTask(document), View.BASIC)));
  }

  /** The MINIMAL view of task `id` in `state`, as the store just read it; frozen, shared, never to be changed. */
  minimal(id: string, state: State): Task {
    const entry = this.touch(id) ?? this.add(id, {});
    if (entry.minimal?.state !== state) entry.minimal = Object.freeze(minimalTask(id, state));
    return entry.minimal;
  }

  /** The entry of task `id`, now the most recently used. */
  private touch(id: string): Entry | undefined {
    const entry = this.entries.get(id);
    if (entry !== undefined) {
      // A Map iterates in insertion order, so eviction takes the first.
      this.entries.delete(id);
      this.entries.set(id, entry);
    }
    return entry;
  }

  /** Keeps `entry` unless it alone is over the limit; answers it either way. */
  private add(id: string, entry: Entry): Entry {
    const bytes = entryBytes(entry);
    if (bytes <= this.maxBytes) {
      this.entries.set(id, entry);
      this.bytes += bytes;
      this.evictOverLimit();
    }
    return entry;
  }

  /** Tasks held now. */
  get size(): number {
    return this.entries.size;
  }

  /** Bytes counted against the limit now (never above maxBytes). */
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
    this.bytes -= entryBytes(entry);
  }
}

function entryBytes(entry: Entry): number {
  return entry.document?.length ?? MINIMAL_ENTRY_BYTES;
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
