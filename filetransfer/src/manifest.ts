/**
 * What one run of filetransfer is asked to move, and the report it writes back.
 *
 * The entries mirror TES's own Input and Output JSON (snake_case, as the spec spells it), so a
 * backend hands over a task's inputs and outputs unchanged. Container paths are resolved under
 * `root`, the host directory that stands for the container's filesystem root: the container path
 * /data/in.txt is the host file `${root}/data/in.txt`. Nothing may resolve outside `root`.
 */
export type FileType = "FILE" | "DIRECTORY";

export interface ManifestInput {
  name?: string;
  url?: string;
  /** Absolute container path. */
  path: string;
  type?: FileType;
  /** Literal content; when non-empty, `url` is ignored. */
  content?: string;
  streamable?: boolean;
}

export interface ManifestOutput {
  name?: string;
  /** A file URL, or a directory URL when `path` holds wildcards or `type` is DIRECTORY. */
  url: string;
  /** Absolute container path; may hold POSIX wildcards. */
  path: string;
  path_prefix?: string;
  type?: FileType;
}

export interface Manifest {
  /** Host directory standing for the container's root. */
  root: string;
  inputs?: ManifestInput[];
  outputs?: ManifestOutput[];
}

/** One file moved, or one that failed to move. */
export interface TransferRecord {
  direction: "download" | "upload";
  url: string;
  /** Absolute container path. */
  path: string;
  /** Bytes moved; decimal string, as TES writes int64. */
  size_bytes: string;
  duration_ms: number;
  /** Set when this file failed: what went wrong, with no secret in it. */
  error?: string;
}

/** What filetransfer writes when it ends: every file it moved or failed to move. */
export interface TransferReport {
  ok: boolean;
  files: TransferRecord[];
  /** Failures not tied to one file (a bad manifest, a listing that failed). */
  errors: string[];
}
