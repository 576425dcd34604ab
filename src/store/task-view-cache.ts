import { View, type State, type Task } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { decodeTask, minimalTask, shapeTask } from "./task-document.js";

/** Default TES_TASK_VIEW_CACHE_BYTES: 16 MiB of stored documents (a few thousand typical tasks). */
export const DEFAULT_TASK_VIEW_CACHE_BYTES = 16 * 1024 * 1024;

/** What a task that only MINIMAL views were asked for counts against the limit: its id, its state and their JSON. */
export const MINIMAL_ENTRY_BYTES = 128;

/** What a store reads for a BASIC or FULL GetTask (see TaskViewCache.view). */
export interface StoredView {
  version: number;
  /** The stored document, or null when the stored version was the held one and the read left it out. */
  document: Uint8Array | null;
}

/** Stored versions start at 1, so a read told that this one is held always includes the document. */
const NO_VERSION = 0;

interface Entry {
  /**
   * The stored version of the document below: the stores add one to it with every change of the
   * document, so views decoded at this version are the task's views for as long as it is the
   * stored one. Undefined while only MINIMAL was asked for.
   */
  version?: number;
  /** The stored document at that version, to decode the other view from when it is asked for. */
  document?: Uint8Array;
  basic?: Task;
  full?: Task;
  /** Reused while the state the store reads is this view's state: id and state are all it holds. */
  minimal?: Task;
}

/**
 * Decoded BASIC and FULL views of recently read tasks, per process, so that polling an unchanged
 * task (GetTask every few seconds from Nextflow, Cromwell) neither reads nor decodes its document
 * each time. MINIMAL views are kept too: they are built from the state column alone, but a shared
 * frozen view lets the REST writer reuse its JSON text (see tesJsonBody) instead of writing it for
 * every poll.
 *
 * A view is reused only while its version is the stored one, which the store reads with every
 * GetTask: an update from any process (a worker, another server) moves the version, so a stale view
 * is never served, and no invalidation is needed. The store reads the document only when the
 * stored version is not the one held. It applies the caller's scope in its query before it asks
 * here, so a view is never handed to a caller who could not read the row.
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

  /**
   * The BASIC or FULL view of task `id`, or undefined when `read` finds no such task (in the
   * caller's scope); frozen, shared, never to be changed. `read(heldVersion)` reads the task's
   * stored version and its document, but may leave the document out (null) when the stored version
   * is heldVersion: the view decoded at that version is still held. If that view has gone by the
   * time the read answers (evicted, or replaced by another version read meanwhile), the task is
   * read again with its document.
   */
  async view(id: string, view: View.BASIC | View.FULL, read: (heldVersion: number) => Promise<StoredView | undefined> | StoredView | undefined): Promise<Task | undefined> {
    const stored = await read(this.entries.get(id)?.version ?? NO_VERSION);
    if (stored === undefined) return undefined;
    const held = this.viewAt(id, stored, view);
    if (held !== undefined) return held;
    const again = await read(NO_VERSION);
    return again === undefined ? undefined : this.viewAt(id, again, view);
  }

  /** The view at the stored version, or undefined when the document was left out and is not held. */
  private viewAt(id: string, { version, document }: StoredView, view: View.BASIC | View.FULL): Task | undefined {
    const entry = this.touch(id);
    if (entry?.document !== undefined && entry.version === version) return decoded(entry, entry.document, view);
    if (document === null) return undefined;
    if (entry !== undefined) this.remove(id, entry);
    // A small Buffer may be a slice of a shared 8 KiB slab (pg decodes bytea so): keep a copy of
    // its own, so that the bytes counted are the bytes held. The MINIMAL view stays: it is checked
    // against the state on every read.
    const own = document.byteLength === document.buffer.byteLength ? document : Uint8Array.prototype.slice.call(document);
    return decoded(this.add(id, { version, document: own, minimal: entry?.minimal }), own, view);
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

/** The entry's view, decoded from its document the first time it is asked for. */
function decoded(entry: Entry, document: Uint8Array, view: View.BASIC | View.FULL): Task {
  if (view === View.FULL) return (entry.full ??= deepFreeze(decodeTask(document)));
  return (entry.basic ??= deepFreeze(shapeTask(decodeTask(document), View.BASIC)));
}

function entryBytes(entry: Entry): number {
  return entry.document?.length ?? MINIMAL_ENTRY_BYTES;
}

/** Freezes a decoded message and everything in it (arrays, maps as objects, nested messages, bytes aside). */
function deepFreeze<T extends object>(value: T): T {
  for (const key of Object.keys(value)) {
    const field = (value as Record<string, unknown>)[key];
    if (typeof field === "object" && field !== null && !ArrayBuffer.isView(field)) deepFreeze(field);
  }
  return Object.freeze(value);
}
