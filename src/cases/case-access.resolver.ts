import { Injectable } from '@nestjs/common';
import type { Actor } from '../core/security/actor';
import { Participation, ResourceAccessResolver } from '../core/security/resource-access';
import { CasesRepository } from './cases.repository';

/** Answers the access guard's resource check for routes that declare `resource: 'case'`. */
@Injectable()
export class CasesAccessResolver implements ResourceAccessResolver {
  constructor(private readonly cases: CasesRepository) {}

  participation(actor: Actor, caseId: string): Promise<Participation | null | undefined> {
    return this.cases.participation(caseId, actor.userId);
  }
}
