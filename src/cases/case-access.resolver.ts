import { Injectable } from '@nestjs/common';
import type { Actor } from '../core/security/actor';
import { CaseAccessResolver, CaseParticipantRole } from '../core/security/case-access';
import { CasesRepository } from './cases.repository';

/** Answers the access guard's resource check for routes that declare `caseParam`. */
@Injectable()
export class CasesAccessResolver implements CaseAccessResolver {
  constructor(private readonly cases: CasesRepository) {}

  participation(actor: Actor, caseId: string): Promise<CaseParticipantRole | null | undefined> {
    return this.cases.participation(caseId, actor.userId);
  }
}
