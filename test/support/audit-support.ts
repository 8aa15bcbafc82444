import { randomBytes } from 'node:crypto';
import TestAgent from 'supertest/lib/agent';
import { DataSource } from 'typeorm';
import { Session } from './app';

/** An audit entry as GET /api/v1/audit returns it. */
export interface AuditEntry {
  id: string;
  occurredAt: string;
  actorId: string | null;
  actorIp: string | null;
  userAgent: string | null;
  action: string;
  resourceType: string | null;
  resourceId: string | null;
  caseId: string | null;
  outcome: 'success' | 'failure';
  details: Record<string, unknown>;
  requestId: string | null;
  prevHash: string;
  hash: string;
  seq: number;
  hashVersion: number;
}

export interface AuditPage {
  data: AuditEntry[];
  meta: { nextCursor: string | null };
}

export interface Verdict {
  valid: boolean;
  checked: number;
  firstBrokenId?: string;
  reason?: string;
  expectedSeq?: number;
  foundSeq?: number;
}

/** The trigger's own words when it refuses a change (see the Foundation migration). */
export const APPEND_ONLY_REFUSAL = (op: 'UPDATE' | 'DELETE' | 'TRUNCATE'): RegExp =>
  new RegExp(`audit_logs is append-only: ${op} refused`);

const RUN_TAG = randomBytes(4).toString('hex');
let sequence = 0;

/** A fresh X-Request-Id (a safe token, so the API echoes it) that finds its audit entry again. */
export function requestId(label = 'req'): string {
  sequence += 1;
  return `audit-e2e-${RUN_TAG}-${label}-${sequence}`;
}

/** Every request id minted by this file starts with this. */
export const REQUEST_ID_PREFIX = `audit-e2e-${RUN_TAG}-`;

/** Id of the newest audit entry now (0 when none), to read only what a test appended after it. */
export async function auditHead(db: DataSource): Promise<string> {
  const [row] = await db.query<{ id: string }[]>(
    'SELECT coalesce(max(id), 0)::text AS id FROM audit_logs',
  );
  return row!.id;
}

/** Follows `meta.nextCursor` to the end; `query` holds the filters (its `after` is the start). */
export async function allAuditEntries(
  http: TestAgent,
  session: Session,
  query: Record<string, string> = {},
  limit = 100,
): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  let after: string | undefined = query.after;
  for (let pages = 0; pages < 10_000; pages++) {
    const response = await http
      .get('/api/v1/audit')
      .set(session.auth)
      .query({ ...query, limit: String(limit), ...(after ? { after } : {}) })
      .expect(200);
    const page = response.body as AuditPage;
    entries.push(...page.data);
    if (page.meta.nextCursor === null) return entries;
    after = page.meta.nextCursor;
  }
  throw new Error('audit cursor did not end');
}

export async function verifyChain(
  http: TestAgent,
  session: Session,
  range: { from?: string; to?: string } = {},
): Promise<Verdict> {
  const response = await http
    .get('/api/v1/audit/verify')
    .set(session.auth)
    .query(range)
    .expect(200);
  return response.body as Verdict;
}

/**
 * Runs `tamper` with the append-only trigger switched off, as an attacker with table
 * ownership could; the trigger is switched back on whatever happens.
 */
export async function withAppendOnlyDisabled<T>(
  db: DataSource,
  tamper: () => Promise<T>,
): Promise<T> {
  await db.query('ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_append_only');
  try {
    return await tamper();
  } finally {
    await db.query('ALTER TABLE audit_logs ENABLE TRIGGER audit_logs_append_only');
  }
}

/** The stored row exactly as Postgres holds it (every column as text), for before/after comparison. */
export async function rawRows(db: DataSource, fromId: string, toId: string): Promise<string[]> {
  const rows = await db.query<{ row: string }[]>(
    'SELECT a::text AS row FROM audit_logs a WHERE id BETWEEN $1 AND $2 ORDER BY id',
    [fromId, toId],
  );
  return rows.map((r) => r.row);
}

/** The id of the entry that follows `id` in the chain, once one exists. */
export async function nextIdAfter(db: DataSource, id: string): Promise<string | null> {
  const [row] = await db.query<{ id: string | null }[]>(
    'SELECT min(id)::text AS id FROM audit_logs WHERE id > $1',
    [id],
  );
  return row!.id;
}
