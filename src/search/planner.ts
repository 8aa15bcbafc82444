/**
 * Planner helpers shared by the full-text queries of `GET /search` and `GET /cases?q=`
 * (README, "Search").
 */

/**
 * Settings (for one transaction, `SET LOCAL`) that leave only bitmap scans: for a count
 * under a LIMIT the planner otherwise likes a scan that tests every row it passes —
 * decompressing a wide tsvector per row — over the GIN bitmap, whose cost is bounded by
 * the matches it yields.
 */
export const BITMAP_ONLY =
  'SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off; SET LOCAL enable_indexonlyscan = off';

/** `Plan Rows` of the top node of an `EXPLAIN (FORMAT JSON)` result; 0 when absent. */
export function planRows(plan: unknown): number {
  const top: unknown = Array.isArray(plan) ? plan[0] : undefined;
  if (typeof top !== 'object' || top === null || !('Plan' in top)) return 0;
  const node: unknown = top.Plan;
  if (typeof node !== 'object' || node === null || !('Plan Rows' in node)) return 0;
  const rows = node['Plan Rows'];
  return typeof rows === 'number' && Number.isFinite(rows) ? Math.round(rows) : 0;
}
