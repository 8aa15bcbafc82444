import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService } from '../../audit/audit.service';

/** Conversations purged per run; the next run takes the rest. */
const CONVERSATIONS_PER_RUN = 1000;

/**
 * Deletes the turns of conversations whose case was deleted before a cut-off and is not
 * under legal hold (SPEC section 12). One conversation per transaction, each audited with
 * the number of turns removed; the conversation row itself stays (ended, with its
 * counters), so links to it still answer and the audit trail names it.
 */
@Injectable()
export class TurnPurgeService {
  private readonly logger = new Logger(TurnPurgeService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  async purgeDeletedCases(deletedBefore: Date): Promise<{ conversations: number; turns: number }> {
    const conversations = await this.dataSource.query<
      { id: string; partitionMonth: string; caseId: string }[]
    >(
      `SELECT v.id, v.partition_month AS "partitionMonth", v.case_id AS "caseId"
         FROM conversations v JOIN cases c ON c.id = v.case_id
        WHERE c.deleted_at < $1 AND c.legal_hold_at IS NULL
          AND EXISTS (SELECT 1 FROM turns t
                       WHERE t.conversation_id = v.id AND t.partition_month = v.partition_month)
        LIMIT $2`,
      [deletedBefore, CONVERSATIONS_PER_RUN],
    );
    let turns = 0;
    for (const conversation of conversations) {
      turns += await this.dataSource.transaction(async (manager) => {
        // Re-checked under a lock on the case: a hold placed meanwhile wins.
        const [kase] = await manager.query<{ held: boolean }[]>(
          `SELECT legal_hold_at IS NOT NULL AS held FROM cases WHERE id = $1 FOR SHARE`,
          [conversation.caseId],
        );
        if (!kase || kase.held) return 0;
        const [, removed] = await manager.query<[unknown, number]>(
          `DELETE FROM turns WHERE conversation_id = $1 AND partition_month = $2`,
          [conversation.id, conversation.partitionMonth],
        );
        // Their revision history holds the same words (cleanedText, corrections).
        await manager.query(`DELETE FROM turn_revisions WHERE conversation_id = $1`, [
          conversation.id,
        ]);
        await this.audit.record(
          {
            action: 'conversation.turns_purge',
            resourceType: 'conversation',
            resourceId: conversation.id,
            caseId: conversation.caseId,
            actorId: null,
            details: { turnsDeleted: removed },
          },
          manager,
        );
        return removed;
      });
    }
    this.logger.log({ conversations: conversations.length, turns }, 'turn purge done');
    return { conversations: conversations.length, turns };
  }
}
