interface Waiter<T> {
  item: T;
  done: () => void;
  fail: (error: unknown) => void;
}

/**
 * Group commit: items submitted while a flush is running go together into the next one,
 * so N concurrent writers pay for one transaction (and one WAL fsync) instead of N. An
 * idle committer flushes at once: no timer, no added latency. `submit` resolves once
 * the item's flush committed. When a batch fails, each of its items is flushed alone,
 * so one bad item fails only its own submitter.
 */
export class GroupCommit<T> {
  private pending: Waiter<T>[] = [];
  private flushing = false;

  constructor(
    private readonly flush: (items: T[]) => Promise<void>,
    private readonly maxBatch = 200,
  ) {}

  submit(item: T): Promise<void> {
    return new Promise<void>((done, fail) => {
      this.pending.push({ item, done, fail });
      if (!this.flushing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.flushing = true;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxBatch);
      try {
        await this.flush(batch.map((waiter) => waiter.item));
        batch.forEach((waiter) => waiter.done());
      } catch (error) {
        if (batch.length === 1) batch[0]!.fail(error);
        else for (const waiter of batch) await this.flushAlone(waiter);
      }
    }
    this.flushing = false;
  }

  private async flushAlone(waiter: Waiter<T>): Promise<void> {
    try {
      await this.flush([waiter.item]);
      waiter.done();
    } catch (error) {
      waiter.fail(error);
    }
  }
}
