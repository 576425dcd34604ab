/**
 * The last `limitBytes` bytes of a stream, for the executor log's stdout/stderr. When bytes were
 * dropped, the text starts at a character boundary, so the tail is valid UTF-8.
 */
export class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = false;

  constructor(private readonly limitBytes: number) {}

  push(chunk: Buffer): void {
    if (this.limitBytes === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limitBytes && this.chunks.length > 0) {
      const first = this.chunks[0] as Buffer;
      const excess = this.size - this.limitBytes;
      this.dropped = true;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }

  text(): string {
    let bytes = Buffer.concat(this.chunks);
    if (this.dropped) {
      let start = 0;
      // Skip UTF-8 continuation bytes (10xxxxxx) left from a character cut in half.
      while (start < bytes.length && start < 4 && ((bytes[start] as number) & 0xc0) === 0x80) start += 1;
      bytes = bytes.subarray(start);
    }
    return bytes.toString("utf8");
  }
}
