import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type { AttemptResult, ExecutorResult } from "../compute-backend.js";
import { writeFileAtomic } from "../../runner/atomic-write.js";
import { parseResultDocument, toResultDocument } from "../../runner/result-document.js";
import type { ProcessIdentity } from "./process-identity.js";

/**
 * One attempt's work directory, which is also its handle: everything the local backend knows about
 * an attempt lives here, so any worker process on this host can poll, cancel or release it.
 *
 *   attempt.json   the task (TES JSON) and what it was counted for; written once, at submit
 *   status.json    phase, owner process, executors ended so far; rewritten as the attempt moves
 *   result.json    the result document; present once the attempt has ended
 *   root/          the container root of the task's paths
 */
export interface AttemptRecord {
  attemptId: string;
  taskId: string;
  attempt: number;
  /** TES JSON of the task. */
  task: unknown;
  cpuCores: number;
  ramGb: number;
  submittedAt: string;
}

export interface StatusRecord {
  phase: "queued" | "initializing" | "running" | "interrupted";
  /** The worker process running (or holding in its queue) this attempt; undefined when none does. */
  owner?: ProcessIdentity;
  /** Executors ended so far, while running. */
  executors?: ExecutorResult[];
  /** The processes holding the running executor, stopped by whoever finds the owner dead. */
  sandbox?: ProcessIdentity[];
  /** The cgroups that hold (or will hold) the running executor's processes, for the same purpose. */
  cgroups?: string[];
  /** Why an interrupted attempt stopped. */
  reason?: string;
  updatedAt: string;
}

export class AttemptDirectory {
  constructor(readonly dir: string) {}

  get root(): string {
    return path.join(this.dir, "root");
  }

  private file(name: string): string {
    return path.join(this.dir, name);
  }

  exists(): boolean {
    return existsSync(this.file("attempt.json"));
  }

  async readAttempt(): Promise<AttemptRecord> {
    return JSON.parse(await fs.readFile(this.file("attempt.json"), "utf8")) as AttemptRecord;
  }

  async readStatus(): Promise<StatusRecord | undefined> {
    try {
      return JSON.parse(await fs.readFile(this.file("status.json"), "utf8")) as StatusRecord;
    } catch {
      return undefined;
    }
  }

  writeStatus(status: Omit<StatusRecord, "updatedAt">): Promise<void> {
    return writeFileAtomic(this.file("status.json"), JSON.stringify({ ...status, updatedAt: new Date().toISOString() }));
  }

  async readResult(): Promise<AttemptResult | undefined> {
    let text: string;
    try {
      text = await fs.readFile(this.file("result.json"), "utf8");
    } catch {
      return undefined;
    }
    return parseResultDocument(text);
  }

  writeResult(result: AttemptResult): Promise<void> {
    return writeFileAtomic(this.file("result.json"), `${JSON.stringify(toResultDocument(result), null, 2)}\n`);
  }

  /**
   * Takes over an attempt from an owner that is gone. Only one process can win: the claim is a file
   * created exclusively, named after the status it replaces (its owner and when it was written).
   */
  async claimFrom(previous: StatusRecord | undefined): Promise<boolean> {
    const owner = previous?.owner;
    const who = owner === undefined ? "unowned" : `${owner.bootId}-${owner.pid}-${owner.startTicks}`;
    const name = `${who}-${(previous?.updatedAt ?? "").replace(/[^0-9A-Za-z]/g, "")}`;
    try {
      await (await fs.open(this.file(`claim-${name}`), "wx")).close();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Creates the directory with its attempt and status files in one step (a renamed temporary
   * directory), so a concurrent or repeated submit finds either nothing or a whole attempt.
   * Answers false when the attempt already exists.
   */
  async create(record: AttemptRecord, status: Omit<StatusRecord, "updatedAt">): Promise<boolean> {
    if (this.exists()) return false;
    const temporary = `${this.dir}.${process.pid}.${Math.random().toString(36).slice(2)}.creating`;
    await fs.mkdir(temporary, { recursive: true });
    try {
      await fs.writeFile(path.join(temporary, "attempt.json"), JSON.stringify(record));
      await fs.writeFile(
        path.join(temporary, "status.json"),
        JSON.stringify({ ...status, updatedAt: new Date().toISOString() }),
      );
      await fs.mkdir(path.join(temporary, "root"));
      await fs.rename(temporary, this.dir);
      return true;
    } catch (error) {
      await fs.rm(temporary, { recursive: true, force: true });
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST") return false;
      throw error;
    }
  }

  remove(): Promise<void> {
    return fs.rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}
