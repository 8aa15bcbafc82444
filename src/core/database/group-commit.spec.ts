import { GroupCommit } from './group-commit';

/** A flush that records its batches and finishes when the test says so. */
function gatedFlush(fail: (items: number[]) => boolean = () => false) {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  const flush = async (items: number[]): Promise<void> => {
    batches.push(items);
    await new Promise<void>((open) => gates.push(open));
    if (fail(items)) throw new Error(`bad batch ${items.join(',')}`);
  };
  const openAll = async (): Promise<void> => {
    while (gates.length > 0) {
      gates.shift()!();
      await new Promise((tick) => setImmediate(tick));
    }
  };
  return { batches, flush, openAll };
}

describe('GroupCommit', () => {
  it('flushes an idle submit at once and groups what arrives during a flush', async () => {
    const { batches, flush, openAll } = gatedFlush();
    const commit = new GroupCommit(flush);
    const all = [1, 2, 3, 4].map((item) => commit.submit(item));
    expect(batches).toEqual([[1]]);
    await openAll();
    await Promise.all(all);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('caps a batch at its maximum size', async () => {
    const { batches, flush, openAll } = gatedFlush();
    const commit = new GroupCommit(flush, 2);
    const all = [1, 2, 3, 4, 5].map((item) => commit.submit(item));
    await openAll();
    await Promise.all(all);
    expect(batches).toEqual([[1], [2, 3], [4, 5]]);
  });

  it('retries a failed batch item by item, so only the bad item fails', async () => {
    const { batches, flush, openAll } = gatedFlush((items) => items.includes(3));
    const commit = new GroupCommit(flush);
    const all = [1, 2, 3, 4].map((item) =>
      commit.submit(item).then(
        () => 'ok',
        (e: Error) => e.message,
      ),
    );
    await openAll();
    const outcomes = await Promise.all(all);
    expect(outcomes).toEqual(['ok', 'ok', 'bad batch 3', 'ok']);
    expect(batches).toEqual([[1], [2, 3, 4], [2], [3], [4]]);
  });

  it('keeps flushing after a failure', async () => {
    const { flush, openAll } = gatedFlush((items) => items.includes(1));
    const commit = new GroupCommit(flush);
    const first = commit.submit(1).catch((e: Error) => e.message);
    await openAll();
    expect(await first).toBe('bad batch 1');
    const second = commit.submit(2);
    await openAll();
    await expect(second).resolves.toBeUndefined();
  });
});
