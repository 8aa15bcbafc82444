import Redis from 'ioredis';
import { TurnKeys } from '../../src/conversations/turns/turn-buffer';
import { Environment } from '../../src/core/config/environment';
import { envInt, ingestAll, Ingestor, planBatches, report } from '../support/fault-pipeline';
import { startWorker } from '../support/fault-worker';
import { RedisCluster, startRedisCluster } from '../support/redis-cluster';
import { createConversation } from '../support/turns';
import { workerFault } from '../support/worker-fault';

/**
 * TARGETS P15 ("zero turns lost or duplicated with one worker killed mid-batch") as a
 * fault test, on a real three-master Redis Cluster: the API in this process (persisting
 * nothing) and two worker processes drain TURN_BUFFER_SHARDS buffers spread over the
 * masters. One worker is frozen at a moment it holds delivered-but-unacknowledged
 * entries with rows already persisted, then SIGKILLed; the other worker, still running,
 * claims what the dead one held (TURN_RECLAIM_IDLE_MS) on whichever master its shard is.
 */
describe('P15: kill -9 of one of two workers on a Redis Cluster', () => {
  const PER_CONVERSATION = envInt('FAULT_CLUSTER_TURNS_PER_CONVERSATION', 1000);
  const CONVERSATIONS = 20;
  const BATCH = 250;
  let cluster: RedisCluster;
  const fault = workerFault('p15', {
    redis: async () => {
      cluster = await startRedisCluster(3);
      const first = cluster.nodes.split(',')[0]!;
      return {
        env: { REDIS_CLUSTER_NODES: cluster.nodes, REDIS_URL: `redis://${first}` },
        stop: () => cluster.stop(),
      };
    },
  });

  /** The master (its port) that owns `key`'s slot. */
  async function masterOf(key: string): Promise<number> {
    const node = new Redis({ host: '127.0.0.1', port: cluster.ports[0], lazyConnect: true });
    await node.connect();
    try {
      const slot = (await node.call('CLUSTER', 'KEYSLOT', key)) as number;
      const ranges = (await node.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
      return ranges.find(([from, to]) => slot >= from && slot <= to)![2][1];
    } finally {
      node.disconnect();
    }
  }

  /** The masters (by port) holding at least one of this run's turn buffers. */
  async function mastersWithBuffers(): Promise<number[]> {
    const holding: number[] = [];
    for (const port of cluster.ports) {
      const node = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
      await node.connect();
      try {
        if ((await node.keys(`${fault.prefix}:turns:*:buffer`)).length > 0) holding.push(port);
      } finally {
        node.disconnect();
      }
    }
    return holding;
  }

  it(`stores every turn of ${CONVERSATIONS}+ conversations over all masters exactly once`, async () => {
    const { api, probe, workerEnv } = fault;
    const started = Date.now();
    const starting = [startWorker(workerEnv), startWorker(workerEnv)];
    const { session, ids } = await fault.conversations(CONVERSATIONS);
    // Conversations hash to TURN_BUFFER_SHARDS shards whose slots the masters share
    // unevenly: more are made, if need be, until every master holds some of them.
    const keys = new TurnKeys(true, new Environment().TURN_BUFFER_SHARDS);
    const masters = new Map<number, number>();
    for (const shard of keys.allShards())
      masters.set(shard, await masterOf(`${fault.prefix}:${keys.buffer(shard)}`));
    const mastersUsed = () => new Set(ids.map((id) => masters.get(keys.shardOf(id))));
    while (mastersUsed().size < cluster.ports.length && ids.length < 4 * CONVERSATIONS)
      ids.push((await createConversation(api.http, session)).id);
    const shards = new Set(ids.map((id) => keys.shardOf(id)));
    expect(mastersUsed().size).toBe(cluster.ports.length);
    const TOTAL = ids.length * PER_CONVERSATION;
    const [victim, survivor] = await Promise.all(starting);
    const booted = Date.now();

    const ingestor = new Ingestor(api.http, session.auth);
    const ingesting = ingestAll(ingestor, planBatches(ids, PER_CONVERSATION, BATCH), 2);
    const killed = await fault.killMidBatch(victim!, ids, TOTAL, 40_000);
    const exit = await victim!.exited;
    const killedAt = Date.now();
    expect(exit.signal).toBe('SIGKILL');
    // The dead consumer still owns the entries it was given and never acknowledged.
    expect((await probe.pendingByConsumer())[victim!.consumer]).toBe(killed.held);

    await ingesting;
    // The API never depended on either worker: every batch was accepted.
    expect(ingestor.statuses()).toEqual({ 202: (ids.length * PER_CONVERSATION) / BATCH });
    expect(ingestor.ackedCount()).toBe(TOTAL);
    expect((await mastersWithBuffers()).length).toBe(cluster.ports.length);

    // Per conversation: count = distinct message numbers = 1..N, turns_count the same.
    const drained = await fault.expectAllPersistedOnce(ids, PER_CONVERSATION, survivor!, 40_000);
    expect(survivor!.alive()).toBe(true);
    report(
      `P15 (cluster): ${TOTAL} turns over ${shards.size} shards on ${cluster.ports.length} ` +
        `masters; workers booted in ${booted - started} ms; killed one with ${killed.rows} rows ` +
        `persisted and ${killed.held} entries unacknowledged; all persisted ` +
        `${drained - killedAt} ms after the kill`,
    );
  }, 120_000);
});
