/** SQLSTATE of a Postgres error surfaced by TypeORM, if any. */
export function postgresErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code =
    (error as { code?: unknown; driverError?: { code?: unknown } }).driverError?.code ??
    (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

export const UNIQUE_VIOLATION = '23505';
export const FOREIGN_KEY_VIOLATION = '23503';

const OUTAGE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P03',
  '08001',
  '08006',
]);

/**
 * Postgres or Redis unreachable (as opposed to a query that is wrong): retry later.
 * Checked by shape, not `instanceof Error`: socket errors are built by Node core, and
 * where the app runs in another realm (Jest's module sandbox, which the e2e and fault
 * tests boot it in) they fail `instanceof Error`, which silently disabled every outage
 * fallback there (turn ingestion answered 401 while Postgres was unreachable).
 */
export function isDependencyOutage(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, message } = error as { name?: unknown; message?: unknown };
  const code = postgresErrorCode(error);
  if (code !== undefined && OUTAGE_CODES.has(code)) return true;
  return (
    name === 'MaxRetriesPerRequestError' ||
    (typeof message === 'string' &&
      /Connection terminated|connection timeout|Connection is closed|timeout exceeded when trying to connect/i.test(
        message,
      ))
  );
}

/**
 * The database refused the data itself (SQLSTATE class 22 data exception or 23 integrity
 * violation): retrying the same rows can never succeed. Everything else (outages,
 * deadlocks, serialization failures, timeouts, a broken query after a bad deploy) may
 * succeed later and must be retried, never given up on.
 */
export function isRefusedData(error: unknown): boolean {
  const code = postgresErrorCode(error);
  return code !== undefined && (code.startsWith('22') || code.startsWith('23'));
}
