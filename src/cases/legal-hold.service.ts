import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { NotFoundProblem } from '../core/http/problem.exception';
import { CasesErrorCode, CasesException } from './cases.exception';
import { CaseHoldState, CasesRepository } from './cases.repository';

/**
 * Legal hold on a case: while it holds, its audio can be neither deleted nor archived by
 * retention (SPEC section 4). The hold lives on the case row, so the cases module owns
 * it; the audio module asks `holdState` before deleting or archiving. Setting and
 * lifting it are audited in the same transaction.
 */
@Injectable()
export class LegalHoldService {
  constructor(
    private readonly cases: CasesRepository,
    private readonly audit: AuditService,
  ) {}

  /**
   * Is this case on hold (and is it open)? `null` when the case does not exist or is
   * deleted. With `lock`, inside the caller's transaction, the hold cannot be placed
   * until that transaction ends: a deletion checked this way never races a new hold.
   */
  holdState(
    caseId: string,
    options: { manager?: EntityManager; lock?: boolean } = {},
  ): Promise<CaseHoldState | null> {
    return this.cases.holdState(caseId, options.manager, options.lock ?? false);
  }

  place(caseId: string, reason: string): Promise<CaseHoldState> {
    return this.cases.transaction(async (manager) => {
      const current = await this.cases.holdState(caseId, manager, true);
      if (!current) throw new NotFoundProblem('case');
      if (current.legalHoldAt) throw new CasesException(CasesErrorCode.AlreadyHeld);
      const held = await this.cases.setLegalHold(caseId, reason, manager);
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
    return this.cases.transaction(async (manager) => {
      const current = await this.cases.holdState(caseId, manager, true);
      if (!current) throw new NotFoundProblem('case');
      if (!current.legalHoldAt) throw new CasesException(CasesErrorCode.NotHeld);
      const lifted = await this.cases.setLegalHold(caseId, null, manager);
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
