import { createHash, Hash } from 'node:crypto';
import { Readable, Transform, TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Passes bytes through while hashing (sha256) and counting them; fails the stream once
 * more than `maxBytes` went through, so an oversize upload stops at the limit.
 */
export class HashingCounter extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;

  constructor(private readonly maxBytes = Number.POSITIVE_INFINITY) {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      done(new SizeLimitExceededError(this.maxBytes));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }

  /** Hex sha256 of everything that passed; call once, after the stream ended. */
  digest(): string {
    return this.hash.digest('hex');
  }
}

export class SizeLimitExceededError extends Error {
  constructor(readonly limit: number) {
    super(`More than ${limit} bytes`);
    this.name = 'SizeLimitExceededError';
  }
}

/** sha256 and length of a stream, read to the end. */
export async function hashStream(
  stream: Readable,
  onBytes?: (total: number) => void,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(stream, async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      hash.update(chunk);
      size += chunk.length;
      onBytes?.(size);
    }
    yield* [];
  });
  return { sha256: hash.digest('hex'), size };
}
