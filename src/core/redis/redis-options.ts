import Redis, { Cluster, ClusterNode, RedisOptions } from 'ioredis';

/** ioredis options from a redis:// or rediss:// URL (user, password, db, TLS). */
export function redisOptionsFromUrl(url: string): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: Number.isInteger(db) ? db : 0,
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** REDIS_CLUSTER_NODES (`host:port,…`) as ioredis cluster start-up nodes; [] when unset. */
export function clusterNodesOf(value: string | undefined): ClusterNode[] {
  return (value ?? '')
    .split(',')
    .map((node) => node.trim())
    .filter((node) => node !== '')
    .map((node) => {
      const at = node.lastIndexOf(':');
      return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
    });
}

export interface RedisSettings {
  /** REDIS_URL: the server, or (with cluster nodes) where credentials and TLS come from. */
  url: string;
  /** REDIS_CLUSTER_NODES; set: a Redis Cluster client. */
  clusterNodes?: string;
  keyPrefix?: string;
  /** `null` for BullMQ's connections (a blip pauses workers instead of failing jobs). */
  maxRetriesPerRequest?: number | null;
}

export function isCluster(settings: Pick<RedisSettings, 'clusterNodes'>): boolean {
  return clusterNodesOf(settings.clusterNodes).length > 0;
}

/**
 * The one way the service connects to Redis: a single server, or a Redis Cluster when
 * cluster nodes are given (SPEC section 12). The cluster client is returned as `Redis`:
 * ioredis gives both the same command API, and every multi-key command, script, MULTI
 * and pipeline of the service keeps its keys in one hash slot (TurnKeys; README
 * "Scaling out"), which is the only thing a cluster adds to the contract.
 */
export function createRedisClient(settings: RedisSettings): Redis {
  const { username, password, tls } = redisOptionsFromUrl(settings.url);
  const common = {
    keyPrefix: settings.keyPrefix,
    enableReadyCheck: true,
    // Commands fail fast while Redis is away instead of piling up for ever.
    maxRetriesPerRequest:
      settings.maxRetriesPerRequest === undefined ? 2 : settings.maxRetriesPerRequest,
  };
  const nodes = clusterNodesOf(settings.clusterNodes);
  if (nodes.length === 0) return new Redis(settings.url, { ...common, lazyConnect: false });
  const cluster = new Cluster(nodes, {
    keyPrefix: settings.keyPrefix,
    enableReadyCheck: true,
    // Slots move (resharding, failover): follow MOVED/ASK and refresh the slot map.
    maxRedirections: 16,
    retryDelayOnMoved: 50,
    retryDelayOnFailover: 200,
    slotsRefreshTimeout: 2000,
    redisOptions: { username, password, tls, maxRetriesPerRequest: common.maxRetriesPerRequest },
  });
  return cluster as unknown as Redis; // see the comment above: same command API
}

/**
 * A new connection like `redis` (a blocking read needs its own), named for CLIENT LIST.
 * A cluster client duplicates into a cluster client with the same nodes and options.
 */
export function duplicateClient(redis: Redis, connectionName: string): Redis {
  if ((redis as unknown) instanceof Cluster) {
    const cluster = redis as unknown as Cluster;
    return cluster.duplicate([], {
      redisOptions: { ...cluster.options.redisOptions, connectionName },
    }) as unknown as Redis;
  }
  return redis.duplicate({ connectionName });
}
