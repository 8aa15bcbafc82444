import { Readable } from 'node:stream';

/**
 * Reads the first `bytes` of a stream (fewer if it ends sooner) without losing them:
 * `rest` replays the head and then the remainder, so the whole stream can still be
 * stored after looking at its magic bytes. Nothing beyond `bytes` is buffered.
 */
export async function peek(
  stream: Readable,
  bytes: number,
): Promise<{ head: Buffer; rest: Readable }> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let length = 0;
  let done = false;
  while (length < bytes) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    chunks.push(next.value);
    length += next.value.length;
  }
  const buffered = Buffer.concat(chunks);
  async function* replay(): AsyncGenerator<Buffer> {
    if (buffered.length > 0) yield buffered;
    if (done) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  const rest = Readable.from(replay(), { objectMode: false, highWaterMark: 1 << 20 });
  // Destroying the replay (an aborted upload) must release the source too.
  rest.once('close', () => {
    if (!stream.readableEnded) stream.destroy();
  });
  return { head: buffered.subarray(0, Math.min(bytes, buffered.length)), rest };
}
