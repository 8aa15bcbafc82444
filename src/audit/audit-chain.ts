import { createHash, hash } from 'node:crypto';
import { canonicalJson } from '../core/canonical-json';

export const GENESIS_HASH = '0'.repeat(64);

/**
 * What an entry's hash covers. 1: the entries written before sequence numbers existed;
 * the migration that added `seq` numbered them in chain order, but their hashes cannot be
 * recomputed, so their `seq` is checked for gaps and not covered by the hash. 2: `seq` is
 * part of the hashed content. Every entry appended now is of the current version.
 */
export type HashVersion = 1 | 2;
export const CURRENT_HASH_VERSION: HashVersion = 2;

/** The content of an audit entry that its hash covers (`seq` from version 2 on). */
export interface ChainedContent {
  id: string;
  /** 1, 2, 3, … in chain order, without gaps: assigned under the chain lock. */
  seq: number;
  hashVersion: HashVersion;
  occurredAt: Date;
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
}

/**
 * The same content with its two non-string fields already in canonical text:
 * `occurredAt` as `Date#toISOString` writes it, `details` as canonical JSON.
 * Verification reads entries in this form, without building Dates and objects.
 */
export type CanonicalFields = Omit<ChainedContent, 'occurredAt' | 'details'> & {
  occurredAt: string;
  details: string;
};

/** An entry as stored: canonical content plus its links. */
export type StoredEntry = CanonicalFields & { prevHash: string; hash: string };

export { canonicalJson };

const text = (value: string | null): string => (value === null ? 'null' : JSON.stringify(value));

// crypto.hash (Node ≥ 20.12) skips the Hash object that createHash builds for each entry.
const sha256Hex: (data: string) => string =
  typeof hash === 'function'
    ? (data) => hash('sha256', data, 'hex')
    : (data) => createHash('sha256').update(data).digest('hex');

export function canonicalFields(content: ChainedContent): CanonicalFields {
  return {
    ...content,
    occurredAt: content.occurredAt.toISOString(),
    details: canonicalJson(content.details),
  };
}

/**
 * The canonical JSON of an entry's hashed content: exactly what
 * `canonicalJson({ id, occurredAt, ..., seq })` writes (keys in sorted order; `seq` only
 * from hash version 2 on), built directly because verification hashes every entry and
 * the generic walk dominated its cost.
 */
export function canonicalText(fields: CanonicalFields): string {
  return (
    `{"action":${JSON.stringify(fields.action)},"actorId":${text(fields.actorId)},` +
    `"actorIp":${text(fields.actorIp)},"caseId":${text(fields.caseId)},` +
    `"details":${fields.details},"id":${JSON.stringify(fields.id)},` +
    `"occurredAt":${JSON.stringify(fields.occurredAt)},"outcome":${JSON.stringify(fields.outcome)},` +
    `"requestId":${text(fields.requestId)},"resourceId":${text(fields.resourceId)},` +
    `"resourceType":${text(fields.resourceType)},` +
    (fields.hashVersion === 1 ? '' : `"seq":${fields.seq},`) +
    `"userAgent":${text(fields.userAgent)}}`
  );
}

export function canonicalContent(content: ChainedContent): string {
  return canonicalText(canonicalFields(content));
}

/** hash = SHA-256(prevHash ‖ "\n" ‖ canonical content), hex. */
export function linkHash(prevHash: string, canonical: string): string {
  return sha256Hex(`${prevHash}\n${canonical}`);
}

export function chainHash(prevHash: string, content: ChainedContent): string {
  return linkHash(prevHash, canonicalContent(content));
}

/**
 * Why the chain is broken at `firstBrokenId`, in the order they are checked:
 * - `seq_gap`: the entry's seq is past the one expected: entries `expectedSeq` to
 *   `foundSeq - 1` are missing here (deleted, or moved later in the chain);
 * - `seq_order`: the entry's seq was already used or is behind (re-appended, moved back);
 * - `hash_version`: an entry of an older or unknown hash version after a newer one;
 * - `link`: `prevHash` is not the hash of the entry before;
 * - `content`: the hash does not match the entry's content.
 */
export type ChainBreak = 'seq_gap' | 'seq_order' | 'hash_version' | 'link' | 'content';

/**
 * Why verification fails: a break of the chain itself, or `checkpoint` (a signed
 * checkpoint that does not verify, or whose entry the chain no longer reaches as signed).
 */
export type VerifyFailure = ChainBreak | 'checkpoint';

export interface ChainVerdict {
  valid: boolean;
  checked: number;
  firstBrokenId?: string;
  reason?: VerifyFailure;
  /** With reason `checkpoint`: the checkpoint that fails. */
  checkpointId?: string;
  /**
   * With a `seq_*` reason: the seq the broken entry should carry, and the one it does;
   * with `checkpoint`: the checkpoint's seq, and the last seq the chain reached.
   */
  expectedSeq?: number;
  foundSeq?: number;
}

/** Where a walk starts: right after an entry (`prev`), or at the genesis. */
export interface ChainStart {
  hash: string;
  seq: number;
  hashVersion: HashVersion;
}

export const GENESIS: ChainStart = { hash: GENESIS_HASH, seq: 0, hashVersion: 1 };

/**
 * Walks entries in chain (id) order from `start` (the entry before the first one walked,
 * or the genesis). Returns the first entry whose seq, version, link or content does not
 * match, with why, and how many entries were checked up to it.
 */
export class ChainWalker {
  private checked = 0;
  private expectedPrev: string;
  private expectedSeq: number;
  private minVersion: HashVersion;
  private broken?: { id: string; reason: ChainBreak; seq: number };

  constructor(start: ChainStart = GENESIS) {
    this.expectedPrev = start.hash;
    this.expectedSeq = start.seq + 1;
    this.minVersion = start.hashVersion;
  }

  get verdict(): ChainVerdict {
    if (!this.broken) return { valid: true, checked: this.checked };
    const { id, reason, seq } = this.broken;
    const verdict: ChainVerdict = {
      valid: false,
      checked: this.checked,
      firstBrokenId: id,
      reason,
    };
    if (reason === 'seq_gap' || reason === 'seq_order') {
      verdict.expectedSeq = this.expectedSeq;
      verdict.foundSeq = seq;
    }
    return verdict;
  }

  get isBroken(): boolean {
    return this.broken !== undefined;
  }

  /** Feeds the next entry; returns false once the chain is broken. */
  next(entry: StoredEntry): boolean {
    if (this.broken) return false;
    this.checked += 1;
    const reason = this.check(entry);
    if (reason) {
      this.broken = { id: entry.id, reason, seq: entry.seq };
      return false;
    }
    this.expectedPrev = entry.hash;
    this.expectedSeq += 1;
    this.minVersion = entry.hashVersion;
    return true;
  }

  private check(entry: StoredEntry): ChainBreak | undefined {
    if (entry.seq !== this.expectedSeq) {
      return entry.seq > this.expectedSeq ? 'seq_gap' : 'seq_order';
    }
    if (
      entry.hashVersion < this.minVersion ||
      (entry.hashVersion !== 1 && entry.hashVersion !== CURRENT_HASH_VERSION)
    ) {
      return 'hash_version';
    }
    if (entry.prevHash !== this.expectedPrev) return 'link';
    if (linkHash(entry.prevHash, canonicalText(entry)) !== entry.hash) return 'content';
    return undefined;
  }
}

/** A broken verdict in words, for the CLI and logs. */
export function describeBreak(verdict: ChainVerdict): string {
  const { reason, expectedSeq, foundSeq } = verdict;
  switch (reason) {
    case undefined:
      return 'not broken';
    case 'seq_gap':
      return foundSeq === (expectedSeq ?? 0) + 1
        ? `seq ${expectedSeq} is missing`
        : `seq ${expectedSeq} to ${(foundSeq ?? 0) - 1} are missing`;
    case 'seq_order':
      return `seq ${foundSeq} where ${expectedSeq} was expected: re-appended or moved back`;
    case 'hash_version':
      return 'an older or unknown hash version after a newer one';
    case 'link':
      return "its prevHash is not the previous entry's hash";
    case 'content':
      return 'its hash does not match its content';
    case 'checkpoint':
      return `signed checkpoint ${verdict.checkpointId} (seq ${expectedSeq}) does not verify or is no longer reached`;
  }
}
