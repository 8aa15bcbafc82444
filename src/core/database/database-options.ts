import { join } from 'node:path';
import { SnakeNamingStrategy } from 'typeorm-naming-strategies';
import type { DataSourceOptions } from 'typeorm';

/** Root of the compiled or source tree: `src/core/database` → project (or dist) root. */
const root = join(__dirname, '..', '..', '..');

export interface DatabaseSettings {
  url: string;
  poolSize: number;
  /** Streaming replicas: reads routed by ReplicaReads go there; nothing else does. */
  replicaUrls?: string[];
}

/**
 * One definition of how the service talks to Postgres, shared by the app, the
 * migration CLI and the tests. `synchronize` is off: migrations alone change the schema.
 */
export function databaseOptions({
  url,
  poolSize,
  replicaUrls = [],
}: DatabaseSettings): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    // TypeORM's replication, with the primary as the default for everything (a query
    // builder would otherwise read from a replica and miss the caller's own writes); only
    // ReplicaReads asks for a replica, explicitly.
    ...(replicaUrls.length > 0
      ? {
          replication: {
            master: { url },
            slaves: replicaUrls.map((replica) => ({ url: replica })),
            defaultMode: 'master' as const,
          },
        }
      : {}),
    uuidExtension: 'pgcrypto',
    entities: [join(root, 'src', '**', '*.entity.{ts,js}')],
    migrations: [join(root, 'migrations', '*.{ts,js}')],
    migrationsTableName: 'schema_migrations',
    namingStrategy: new SnakeNamingStrategy(),
    synchronize: false,
    migrationsRun: false,
    // Off: TypeORM would print failing queries with their parameters (hashes, tokens).
    // Unexpected errors are logged, without parameters, by the problem filter.
    logging: false,
    // A dead server must fail fast (and trigger fallbacks) instead of hanging requests.
    extra: { max: poolSize, application_name: 'verbatim', connectionTimeoutMillis: 2000 },
  };
}
