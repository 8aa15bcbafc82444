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

/** hash = SHA-256(prevHash ‖ canonical content), hex. */
export function chainHash(prevHash: string, content: ChainedContent): string {
  return createHash('sha256')
    .update(prevHash)
    .update('\n')
    .update(
      canonicalJson({
        id: content.id,
        occurredAt: content.occurredAt,
        actorId: content.actorId,
        actorIp: content.actorIp,
        userAgent: content.userAgent,
        action: content.action,
        resourceType: content.resourceType,
        resourceId: content.resourceId,
        caseId: content.caseId,
        outcome: content.outcome,
        details: content.details,
        requestId: content.requestId,
      }),
    )
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
