import { types } from 'pg';
import { canonicalJson, HashVersion, StoredEntry } from './audit-chain';

/** The columns of an audit entry as the walk selects them, all as Postgres writes them. */
export type StoredRow = [
  id: string,
  occurredAt: string,
  actorId: string | null,
  actorIp: string | null,
  userAgent: string | null,
  action: string,
  resourceType: string | null,
  resourceId: string | null,
  caseId: string | null,
  outcome: 'success' | 'failure',
  details: string,
  requestId: string | null,
  prevHash: string,
  hash: string,
  /** bigint, as text. */
  seq: string,
  /** smallint, which pg reads as a number; any value, as the table holds it. */
  hashVersion: number,
];

/** The column list that yields a StoredRow; `a` is audit_logs. */
export const STORED_ROW_COLUMNS = `a.id::text, a.occurred_at::text, a.actor_id, a.actor_ip,
  a.user_agent, a.action, a.resource_type, a.resource_id, a.case_id, a.outcome,
  a.details::text, a.request_id, a.prev_hash, a.hash, a.seq, a.hash_version`;

const parseTimestamptz = types.getTypeParser(types.builtins.TIMESTAMPTZ) as (text: string) => Date;
const UTC_TIMESTAMP = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?\+00$/;

/**
 * `Date#toISOString` of the instant pg's own parser reads from a timestamptz text.
 * In a UTC session (the usual server setting) that is a matter of moving characters,
 * several times cheaper than building a Date; milliseconds are truncated as pg does.
 * Any other form (another time zone, BC, a five-digit year) takes pg's parser.
 */
export function isoInstant(text: string): string {
  if (!UTC_TIMESTAMP.test(text)) return parseTimestamptz(text).toISOString();
  const fraction = text.length > 22 ? text.slice(20, -3) : '';
  return `${text.slice(0, 10)}T${text.slice(11, 19)}.${fraction.padEnd(3, '0').slice(0, 3)}Z`;
}

/** Canonical JSON of a jsonb text; most entries have empty details. */
export function canonicalJsonText(json: string): string {
  return json === '{}' ? json : canonicalJson(JSON.parse(json));
}

export function storedEntry(row: StoredRow): StoredEntry {
  return {
    id: row[0],
    occurredAt: isoInstant(row[1]),
    actorId: row[2],
    actorIp: row[3],
    userAgent: row[4],
    action: row[5],
    resourceType: row[6],
    resourceId: row[7],
    caseId: row[8],
    outcome: row[9],
    details: canonicalJsonText(row[10]),
    requestId: row[11],
    prevHash: row[12],
    hash: row[13],
    seq: Number(row[14]),
    // Not narrowed: the walker reports a version it does not know.
    hashVersion: row[15] as HashVersion,
  };
}
