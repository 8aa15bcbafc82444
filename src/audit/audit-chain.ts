import { createHash } from 'node:crypto';
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

export { canonicalJson };

const text = (value: string | null): string => (value === null ? 'null' : JSON.stringify(value));

/**
 * The canonical JSON of an entry's hashed content: exactly what
 * `canonicalJson({ id, occurredAt, ... })` writes (keys in sorted order), built directly
 * because verification hashes every entry and the generic walk dominated its cost.
 */
export function canonicalContent(content: ChainedContent): string {
  return (
    `{"action":${JSON.stringify(content.action)},"actorId":${text(content.actorId)},` +
    `"actorIp":${text(content.actorIp)},"caseId":${text(content.caseId)},` +
    `"details":${canonicalJson(content.details)},"id":${JSON.stringify(content.id)},` +
    `"occurredAt":${JSON.stringify(content.occurredAt.toISOString())},"outcome":${JSON.stringify(content.outcome)},` +
    `"requestId":${text(content.requestId)},"resourceId":${text(content.resourceId)},` +
    `"resourceType":${text(content.resourceType)},"userAgent":${text(content.userAgent)}}`
  );
}

/** hash = SHA-256(prevHash ‖ "\n" ‖ canonical content), hex. */
export function chainHash(prevHash: string, content: ChainedContent): string {
  return createHash('sha256')
    .update(`${prevHash}\n${canonicalContent(content)}`)
    .digest('hex');
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
  next(entry: ChainedContent & { prevHash: string; hash: string }): boolean {
    if (this.broken) return false;
    this.checked += 1;
    if (entry.prevHash !== this.expectedPrev || chainHash(entry.prevHash, entry) !== entry.hash) {
      this.broken = entry.id;
      return false;
    }
    this.expectedPrev = entry.hash;
    return true;
  }
}
