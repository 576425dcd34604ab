/** Counters of a run, for the progress line and for callers that show their own. */
export interface TransferProgress {
  direction: "download" | "upload";
  filesTotal: number;
  filesDone: number;
  filesFailed: number;
  bytesDone: number;
  elapsedInMs: number;
}

export class ProgressTracker {
  readonly #started = Date.now();
  readonly #state: Omit<TransferProgress, "elapsedInMs">;
  readonly #listener: ((progress: TransferProgress) => void) | undefined;

  constructor(direction: "download" | "upload", listener?: (progress: TransferProgress) => void) {
    this.#state = { direction, filesTotal: 0, filesDone: 0, filesFailed: 0, bytesDone: 0 };
    this.#listener = listener;
  }

  addFiles(count: number): void {
    this.#state.filesTotal += count;
    this.#emit();
  }

  /** Bytes moved; negative to take back what a restarted attempt discarded. */
  addBytes(count: number): void {
    this.#state.bytesDone += count;
  }

  fileEnded(failed: boolean): void {
    this.#state.filesDone += 1;
    if (failed) this.#state.filesFailed += 1;
    this.#emit();
  }

  snapshot(): TransferProgress {
    return { ...this.#state, elapsedInMs: Date.now() - this.#started };
  }

  #emit(): void {
    this.#listener?.(this.snapshot());
  }
}
