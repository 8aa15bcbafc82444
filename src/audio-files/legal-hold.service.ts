import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { NotFoundProblem } from '../core/http/problem.exception';
import { AudioErrorCode, AudioException } from './audio-files.exception';
import { AudioFilesRepository, CaseHoldState } from './audio-files.repository';

/**
 * Legal hold on a case: while it holds, its audio can be neither deleted nor archived by
 * retention (SPEC section 4). The hold lives on the case row; setting and lifting it are
 * audited in the same transaction.
 */
@Injectable()
export class LegalHoldService {
  constructor(
    private readonly audio: AudioFilesRepository,
    private readonly audit: AuditService,
  ) {}

  place(caseId: string, reason: string): Promise<CaseHoldState> {
    return this.audio.transaction(async (manager) => {
      const current = await this.audio.lockCase(caseId, manager);
      if (!current) throw new NotFoundProblem('case');
      if (current.legalHoldAt) throw new AudioException(AudioErrorCode.AlreadyHeld);
      const held = await this.audio.setLegalHold(caseId, reason, manager);
      await this.audit.record(
        {
          action: 'case.hold',
          resourceType: 'case',
          resourceId: caseId,
          caseId,
          details: { reason },
        },
        manager,
      );
      return held;
    });
  }

  lift(caseId: string, reason: string): Promise<CaseHoldState> {
    return this.audio.transaction(async (manager) => {
      const current = await this.audio.lockCase(caseId, manager);
      if (!current) throw new NotFoundProblem('case');
      if (!current.legalHoldAt) throw new AudioException(AudioErrorCode.NotHeld);
      const lifted = await this.audio.setLegalHold(caseId, null, manager);
      await this.audit.record(
        {
          action: 'case.hold_release',
          resourceType: 'case',
          resourceId: caseId,
          caseId,
          details: {
            reason,
            heldSince: current.legalHoldAt.toISOString(),
            heldFor: current.legalHoldReason,
          },
        },
        manager,
      );
      return lifted;
    });
  }
}
