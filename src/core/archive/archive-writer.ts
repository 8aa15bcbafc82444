import { createHash } from 'node:crypto';
import * as tar from 'tar-stream';
import { Clock, systemClock } from '../clock/clock';

/**
 * Writes entries into a tar-stream pack, sequentially, with backpressure: each entry's
 * bytes are hashed on the way through and never held whole (backups, case exports).
 */
export class ArchiveWriter {
  readonly pack = tar.pack();
  private failure: Error | null = null;
  private readonly failed: Promise<never>;
  private rejectFailed!: (error: Error) => void;

  /** `clock` stamps each entry's mtime. */
  constructor(private readonly clock: Clock = systemClock) {
    this.failed = new Promise<never>((_, reject) => {
      this.rejectFailed = reject;
    });
    this.failed.catch(() => undefined);
  }

  /** The output side failed (disk full, …): pending and later writes reject with `error`. */
  abort(error: Error): void {
    this.failure ??= error;
    this.rejectFailed(error);
    this.pack.destroy(error);
  }

  /**
   * Adds an entry of exactly `size` bytes from `source`; resolves with its sha256 once
   * the entry is written. Fails if the source yields a different number of bytes.
   */
  async add(
    name: string,
    size: number,
    source: AsyncIterable<Buffer> | Iterable<Buffer>,
    onBytes: (bytes: number) => void = () => undefined,
  ): Promise<string> {
    if (this.failure) throw this.failure;
    const hash = createHash('sha256');
    let written = 0;
    let sink!: ReturnType<tar.Pack['entry']>;
    const finished = new Promise<void>((resolve, reject) => {
      sink = this.pack.entry({ name, size, mode: 0o600, mtime: this.clock.now() }, (error) =>
        error ? reject(error) : resolve(),
      );
    });
    finished.catch(() => undefined);
    // Failures arrive through the callback above; an aborted pack also errors the entry.
    sink.on('error', () => undefined);
    const stop = Promise.race([finished.then(() => undefined), this.failed]);
    stop.catch(() => undefined);
    for await (const chunk of source) {
      written += chunk.length;
      if (written > size) {
        throw new Error(`${name} grew while it was being archived (more than ${size} bytes)`);
      }
      hash.update(chunk);
      onBytes(chunk.length);
      if (!sink.write(chunk)) {
        await Promise.race([
          new Promise<void>((resolve) => sink.once('drain', () => resolve())),
          stop,
        ]);
      }
    }
    if (written !== size) {
      throw new Error(`${name} changed while it was being archived (${written} of ${size} bytes)`);
    }
    sink.end(undefined);
    await Promise.race([finished, this.failed]);
    return hash.digest('hex');
  }

  /** A small entry held in memory (the manifest). */
  async addBuffer(name: string, content: Buffer): Promise<void> {
    await this.add(name, content.length, [content]);
  }

  finalize(): void {
    this.pack.finalize();
  }
}
