import { createHash, hash } from 'node:crypto';
import { canonicalJson } from '../core/canonical-json';

export const GENESIS_HASH = '0'.repeat(64);

/** The content of an audit entry that its hash covers. */
export interface ChainedContent {
  id: string;
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
 * `canonicalJson({ id, occurredAt, ... })` writes (keys in sorted order), built directly
 * because verification hashes every entry and the generic walk dominated its cost.
 */
export function canonicalText(fields: CanonicalFields): string {
  return (
    `{"action":${JSON.stringify(fields.action)},"actorId":${text(fields.actorId)},` +
    `"actorIp":${text(fields.actorIp)},"caseId":${text(fields.caseId)},` +
    `"details":${fields.details},"id":${JSON.stringify(fields.id)},` +
    `"occurredAt":${JSON.stringify(fields.occurredAt)},"outcome":${JSON.stringify(fields.outcome)},` +
    `"requestId":${text(fields.requestId)},"resourceId":${text(fields.resourceId)},` +
    `"resourceType":${text(fields.resourceType)},"userAgent":${text(fields.userAgent)}}`
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

export interface ChainVerdict {
  valid: boolean;
  checked: number;
  firstBrokenId?: string;
}

/**
 * Walks entries in id order. `expectedPrev` is the hash the first entry must link to
 * (the predecessor's hash, or the genesis hash). Returns the first entry whose link or
 * content does not match, and how many entries were checked up to it.
 */
export class ChainWalker {
  private checked = 0;
  private broken?: string;

  constructor(private expectedPrev: string) {}

  get verdict(): ChainVerdict {
    return this.broken
      ? { valid: false, checked: this.checked, firstBrokenId: this.broken }
      : { valid: true, checked: this.checked };
  }

  get isBroken(): boolean {
    return this.broken !== undefined;
  }

  /** Feeds the next entry; returns false once the chain is broken. */
  next(entry: StoredEntry): boolean {
    if (this.broken) return false;
    this.checked += 1;
    if (
      entry.prevHash !== this.expectedPrev ||
      linkHash(entry.prevHash, canonicalText(entry)) !== entry.hash
    ) {
      this.broken = entry.id;
      return false;
    }
    this.expectedPrev = entry.hash;
    return true;
  }
}
