import { Injectable, Logger } from '@nestjs/common';
import { canonicalJson } from '../core/canonical-json';
import { Clock } from '../core/clock/clock';
import { SigningKeys } from '../core/signing/signing-keys';
import { AuditCheckpointsRepository } from './audit-checkpoints.repository';
import { AuditCheckpointEntity } from './entities/audit-checkpoint.entity';

/** What a checkpoint signs, in this form: canonical JSON of these five fields. */
export interface CheckpointPayload {
  lastId: string;
  lastSeq: number;
  lastHash: string;
  count: number;
  at: string;
}

export function checkpointPayload(checkpoint: AuditCheckpointEntity): CheckpointPayload {
  return {
    lastId: checkpoint.lastId,
    lastSeq: Number(checkpoint.lastSeq),
    lastHash: checkpoint.lastHash,
    count: Number(checkpoint.count),
    at: checkpoint.at.toISOString(),
  };
}

/** The exact bytes signed: `{"at":…,"count":…,"lastHash":…,"lastId":…,"lastSeq":…}`. */
export function signedBytes(payload: CheckpointPayload): Buffer {
  return Buffer.from(canonicalJson(payload), 'utf8');
}

/**
 * Signed checkpoints of the audit chain (SPEC section 13). The worker makes one every
 * AUDIT_CHECKPOINT_MINUTES; verification then requires the chain to still reach each one.
 */
@Injectable()
export class AuditCheckpointsService {
  private readonly logger = new Logger(AuditCheckpointsService.name);

  constructor(
    private readonly repository: AuditCheckpointsRepository,
    private readonly keys: SigningKeys,
    private readonly clock: Clock,
  ) {}

  /**
   * Signs the chain's head, unless the chain is empty or has not moved since the last
   * checkpoint (nothing new to vouch for). Not audited itself: an entry per checkpoint
   * would move the head every time.
   */
  async create(): Promise<AuditCheckpointEntity | null> {
    const head = await this.repository.head();
    if (!head) return null;
    const latest = await this.repository.latest();
    if (latest?.lastId === head.id) return null;
    const payload: CheckpointPayload = {
      lastId: head.id,
      lastSeq: head.seq,
      lastHash: head.hash,
      count: head.count,
      at: this.clock.now().toISOString(),
    };
    const { keyId, signature } = await this.keys.sign(signedBytes(payload));
    const saved = await this.repository.insert({
      lastId: payload.lastId,
      lastSeq: String(payload.lastSeq),
      lastHash: payload.lastHash,
      count: String(payload.count),
      at: new Date(payload.at),
      keyId,
      signature,
    });
    this.logger.log(
      { checkpointId: saved.id, lastSeq: payload.lastSeq, keyId },
      'audit checkpoint signed',
    );
    return saved;
  }

  /** Whether the stored checkpoint is, field for field, what the key signed. */
  isAuthentic(checkpoint: AuditCheckpointEntity): Promise<boolean> {
    return this.keys.verify(
      signedBytes(checkpointPayload(checkpoint)),
      checkpoint.signature,
      checkpoint.keyId,
    );
  }

  list(after: string | undefined, limit: number): Promise<AuditCheckpointEntity[]> {
    return this.repository.list(after, limit + 1);
  }
}
