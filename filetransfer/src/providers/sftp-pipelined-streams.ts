import { Readable, Writable } from "node:stream";
import type { SFTPWrapper } from "ssh2";

/**
 * Streams over an SFTP file handle with several requests in flight, as OpenSSH's sftp and ssh2's
 * own fastGet/fastPut do. ssh2's createReadStream and createWriteStream wait for each request's
 * answer before sending the next, which caps throughput at one block per round trip. Memory stays
 * bounded by `requests × blockSize`.
 */
export interface PipelineOptions {
  blockSize: number;
  requests: number;
}

export const DEFAULT_PIPELINE: PipelineOptions = { blockSize: 64 * 1024, requests: 16 };

interface PendingRead {
  position: number;
  length: number;
  result: Promise<Buffer>;
}

/** Reads [start, end) of an open handle in order; the handle is closed when the stream ends or is destroyed. */
export function pipelinedReadStream(sftp: SFTPWrapper, handle: Buffer, start: number, end: number, options = DEFAULT_PIPELINE): Readable {
  let next = start;
  const queue: PendingRead[] = [];
  let reading = false;
  let closed = false;

  const request = (position: number, length: number): PendingRead => ({
    position,
    length,
    result: new Promise<Buffer>((resolve, reject) => {
      const buffer = Buffer.allocUnsafe(length);
      sftp.read(handle, buffer, 0, length, position, (error, bytesRead) => {
        if (error) reject(error);
        else resolve(buffer.subarray(0, bytesRead));
      });
    }),
  });
  const fill = () => {
    while (queue.length < options.requests && next < end) {
      const length = Math.min(options.blockSize, end - next);
      queue.push(request(next, length));
      next += length;
    }
  };
  // Not waiting for the answer: after a dropped connection ssh2 never answers, and the stream must still end.
  const closeHandle = (callback: () => void) => {
    if (!closed) {
      closed = true;
      sftp.close(handle, () => undefined);
    }
    callback();
  };

  const stream = new Readable({
    highWaterMark: options.blockSize,
    read() {
      if (reading) return;
      reading = true;
      fill();
      const head = queue.shift();
      if (!head) {
        reading = false;
        closeHandle(() => this.push(null));
        return;
      }
      // Keep a rejection of a request still queued from becoming unhandled before its turn.
      for (const pending of queue) pending.result.catch(() => undefined);
      head.result.then(
        (data) => {
          reading = false;
          if (data.length === 0) {
            // The file ended before the size we were given: it shrank while we read it.
            this.destroy(new Error(`the file ended at byte ${head.position}, expected ${end}`));
            return;
          }
          if (data.length < head.length) queue.unshift(request(head.position + data.length, head.length - data.length));
          this.push(data);
        },
        (error: Error) => {
          reading = false;
          this.destroy(error);
        },
      );
    },
    destroy(error, callback) {
      closeHandle(() => callback(error));
    },
  });
  return stream;
}

/** Writes sequentially from `position` 0 of an open handle; finishing waits for every answer and closes it. */
export function pipelinedWriteStream(sftp: SFTPWrapper, handle: Buffer, options = DEFAULT_PIPELINE): Writable {
  let position = 0;
  let inFlight = 0;
  let failure: Error | undefined;
  let waiting: (() => void) | undefined;
  let closed = false;

  const settle = () => {
    const resume = waiting;
    waiting = undefined;
    resume?.();
  };
  const closeHandle = (callback: (error?: Error | null) => void) => {
    if (closed) return callback();
    closed = true;
    sftp.close(handle, (error) => callback(error));
  };

  return new Writable({
    highWaterMark: options.blockSize,
    write(chunk: Buffer, _encoding, callback) {
      if (failure) return callback(failure);
      for (let at = 0; at < chunk.length; at += options.blockSize) {
        const part = chunk.subarray(at, at + options.blockSize);
        inFlight += 1;
        sftp.write(handle, part, 0, part.length, position, (error) => {
          inFlight -= 1;
          if (error && !failure) failure = error;
          settle();
        });
        position += part.length;
      }
      if (inFlight < options.requests) return callback();
      waiting = () => callback(failure);
    },
    final(callback) {
      const finish = () => {
        if (inFlight > 0 && !failure) {
          waiting = finish;
          return;
        }
        if (failure) return callback(failure);
        closeHandle(callback);
      };
      finish();
    },
    destroy(error, callback) {
      if (!closed) {
        closed = true;
        sftp.close(handle, () => undefined);
      }
      callback(error);
    },
  });
}

export function openHandle(sftp: SFTPWrapper, path: string, flags: "r" | "w"): Promise<Buffer> {
  return new Promise((resolve, reject) => sftp.open(path, flags, (error, handle) => (error ? reject(error) : resolve(handle))));
}
