import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { accessScope } from '../core/access/access-decision';
import { CacheInvalidation } from '../core/cache/cache-invalidation';
import { Clock } from '../core/clock/clock';
import { DomainEvents } from '../core/events/domain-events';
import { UsersRepository } from '../auth/users.repository';
import { postgresErrorCode, UNIQUE_VIOLATION } from '../core/database/postgres-errors';
import { NotFoundProblem, PreconditionFailedProblem } from '../core/http/problem.exception';
import { RequestContext } from '../core/http/request-context';
import type { Actor } from '../core/security/actor';
import { CasesErrorCode, CasesException } from './cases.exception';
import { CaseChanges, CaseListPage, CasesRepository } from './cases.repository';
import {
  AddNoteDto,
  AddParticipantDto,
  CreateCaseDto,
  ListCasesQuery,
  UpdateCaseDto,
  UpdateParticipantDto,
} from './dto/case.dto';
import { CaseNoteEntity } from './entities/case-note.entity';
import { CaseParticipantEntity } from './entities/case-participant.entity';
import { CaseEntity } from './entities/case.entity';

/**
 * Case rules. Visibility and participation are already enforced by the access guard
 * (routes declare `resource: 'case'`); lists filter in SQL through the repository.
 */
@Injectable()
export class CasesService {
  constructor(
    private readonly cases: CasesRepository,
    private readonly users: UsersRepository,
    private readonly audit: AuditService,
    private readonly invalidation: CacheInvalidation,
    private readonly clock: Clock,
    private readonly events: DomainEvents,
  ) {}

  list(actor: Actor, query: ListCasesQuery): Promise<CaseListPage> {
    const descending = query.sort?.startsWith('-') ?? true;
    const field = (query.sort?.replace(/^-/, '') ?? (query.q ? 'rank' : 'createdAt')) as
      'createdAt' | 'updatedAt' | 'priority' | 'caseCode' | 'rank';
    return this.cases.list({
      ...accessScope(actor),
      status: query.status,
      priority: query.priority,
      participant: query.participant,
      createdFrom: query.createdFrom ? new Date(query.createdFrom) : undefined,
      createdTo: query.createdTo ? new Date(query.createdTo) : undefined,
      q: query.q,
      sort: { field, descending },
      offset: query.offset,
      limit: query.limit,
    });
  }

  async create(actor: Actor, dto: CreateCaseDto): Promise<CaseEntity> {
    try {
      return await this.cases.transaction(async (manager) => {
        const caseCode = dto.caseCode ?? (await this.freshCaseCode(manager));
        const created = await this.cases.insert(
          {
            caseCode,
            title: dto.title,
            description: dto.description ?? '',
            status: dto.status ?? 'active',
            priority: dto.priority ?? 'medium',
            createdBy: actor.userId,
          },
          manager,
        );
        await this.cases.addParticipant(
          { caseId: created.id, userId: actor.userId, role: 'lead', addedBy: actor.userId },
          manager,
        );
        await this.audit.record(
          {
            action: 'case.create',
            resourceType: 'case',
            resourceId: created.id,
            caseId: created.id,
            details: { caseCode },
          },
          manager,
        );
        await this.events.publish(
          {
            type: 'case.created',
            actorId: actor.userId,
            caseId: created.id,
            resourceType: 'case',
            resourceId: created.id,
            title: `Case ${caseCode} created`,
            data: { caseCode, status: created.status, priority: created.priority },
            occurredAt: created.createdAt,
          },
          manager,
        );
        return created;
      });
    } catch (error) {
      if (postgresErrorCode(error) === UNIQUE_VIOLATION)
        throw new CasesException(CasesErrorCode.DuplicateCaseCode);
      throw error;
    }
  }

  /** Skips sequence values a client already used as an explicit caseCode. */
  private async freshCaseCode(manager: EntityManager): Promise<string> {
    for (;;) {
      const code = await this.cases.nextCaseCode(manager, this.clock.now());
      if (!(await this.cases.caseCodeExists(code, manager))) return code;
    }
  }

  async get(id: string): Promise<CaseEntity> {
    const found = await this.cases.findLive(id);
    if (!found) throw new NotFoundProblem('case');
    return found;
  }

  async update(id: string, dto: UpdateCaseDto, expectedVersion?: number): Promise<CaseEntity> {
    return this.cases.transaction(async (manager) => {
      const current = await this.cases.lockLive(id, manager);
      if (!current) throw new NotFoundProblem('case');
      if (expectedVersion !== undefined && current.version !== expectedVersion)
        throw new PreconditionFailedProblem();
      if (current.status === 'closed') throw new CasesException(CasesErrorCode.CaseClosed);
      const changes: CaseChanges = {
        ...(dto.title !== undefined ? { title: dto.title } : {}),
        ...(dto.description !== undefined ? { description: dto.description } : {}),
        ...(dto.status !== undefined ? { status: dto.status } : {}),
        ...(dto.priority !== undefined ? { priority: dto.priority } : {}),
      };
      const updated = await this.cases.update(id, changes, current.version, manager);
      await this.audit.record(
        {
          action: 'case.update',
          resourceType: 'case',
          resourceId: id,
          caseId: id,
          details: { fields: Object.keys(changes) },
        },
        manager,
      );
      return updated!;
    });
  }

  close(id: string): Promise<CaseEntity> {
    return this.transition(id, 'case.close', (current) =>
      current.status === 'closed' ? null : { status: 'closed', closedAt: this.clock.now() },
    );
  }

  reopen(id: string): Promise<CaseEntity> {
    return this.transition(id, 'case.reopen', (current) =>
      current.status === 'closed' ? { status: 'active', closedAt: null } : null,
    );
  }

  private transition(
    id: string,
    action: 'case.close' | 'case.reopen',
    next: (current: CaseEntity) => CaseChanges | null,
  ): Promise<CaseEntity> {
    return this.cases.transaction(async (manager) => {
      const current = await this.cases.lockLive(id, manager);
      if (!current) throw new NotFoundProblem('case');
      const changes = next(current);
      if (!changes) {
        throw new CasesException(
          CasesErrorCode.IllegalTransition,
          `A ${current.status} case cannot be ${action === 'case.close' ? 'closed' : 'reopened'}.`,
        );
      }
      const updated = await this.cases.update(id, changes, current.version, manager);
      await this.audit.record(
        {
          action,
          resourceType: 'case',
          resourceId: id,
          caseId: id,
          details: { from: current.status, to: changes.status },
        },
        manager,
      );
      if (action === 'case.close') {
        await this.events.publish(
          {
            type: 'case.closed',
            actorId: RequestContext.current()?.actor?.userId ?? null,
            caseId: id,
            resourceType: 'case',
            resourceId: id,
            title: `Case ${current.caseCode} closed`,
            data: { caseCode: current.caseCode, previousStatus: current.status },
            occurredAt: updated!.closedAt ?? this.clock.now(),
          },
          manager,
        );
      }
      return updated!;
    });
  }

  async delete(id: string): Promise<void> {
    await this.cases.transaction(async (manager) => {
      const current = await this.cases.lockLive(id, manager);
      if (!current) throw new NotFoundProblem('case');
      await this.cases.update(id, { deletedAt: this.clock.now() }, current.version, manager);
      this.invalidation.invalidate(`case:${id}`, manager);
      await this.audit.record(
        { action: 'case.delete', resourceType: 'case', resourceId: id, caseId: id },
        manager,
      );
    });
  }

  listParticipants(caseId: string): Promise<CaseParticipantEntity[]> {
    return this.cases.listParticipants(caseId);
  }

  async addParticipant(
    actor: Actor,
    caseId: string,
    dto: AddParticipantDto,
  ): Promise<CaseParticipantEntity> {
    const user = await this.users.findById(dto.userId);
    if (!user?.isActive) throw new CasesException(CasesErrorCode.UnknownUser);
    return this.cases.transaction(async (manager) => {
      if (!(await this.cases.lockLive(caseId, manager))) throw new NotFoundProblem('case');
      if (await this.cases.findParticipant(caseId, dto.userId, manager)) {
        throw new CasesException(CasesErrorCode.AlreadyParticipant);
      }
      const participant = await this.cases.addParticipant(
        { caseId, userId: dto.userId, role: dto.role, addedBy: actor.userId },
        manager,
      );
      this.invalidation.invalidate(`case:${caseId}`, manager);
      await this.audit.record(
        {
          action: 'case.participant_add',
          resourceType: 'user',
          resourceId: dto.userId,
          caseId,
          details: { role: dto.role },
        },
        manager,
      );
      await this.events.publish(
        {
          type: 'case.participant_added',
          actorId: actor.userId,
          caseId,
          resourceType: 'case',
          resourceId: caseId,
          title: `${user.username} was added to a case as ${dto.role}`,
          alsoNotify: [dto.userId],
          data: { userId: dto.userId, username: user.username, role: dto.role },
          occurredAt: this.clock.now(),
        },
        manager,
      );
      return participant;
    });
  }

  /**
   * Changes a participant's role in place, so the participation keeps its history (who
   * added them, when). Under the case row lock, like removals: demoting the last lead
   * is refused. Setting the role it already has changes nothing and records nothing.
   */
  async changeParticipantRole(
    caseId: string,
    userId: string,
    dto: UpdateParticipantDto,
  ): Promise<CaseParticipantEntity> {
    return this.cases.transaction(async (manager) => {
      if (!(await this.cases.lockLive(caseId, manager))) throw new NotFoundProblem('case');
      const participant = await this.cases.findParticipant(caseId, userId, manager);
      if (!participant) throw new CasesException(CasesErrorCode.NotParticipant);
      if (participant.role === dto.role) return participant;
      if (participant.role === 'lead' && (await this.cases.countLeads(caseId, manager)) <= 1) {
        throw new CasesException(
          CasesErrorCode.LastLead,
          'The last lead of a case cannot be given another role; make someone else lead first.',
        );
      }
      const updated = await this.cases.updateParticipantRole(caseId, userId, dto.role, manager);
      this.invalidation.invalidate(`case:${caseId}`, manager);
      await this.audit.record(
        {
          action: 'case.participant_role_changed',
          resourceType: 'user',
          resourceId: userId,
          caseId,
          details: { from: participant.role, to: dto.role },
        },
        manager,
      );
      return updated!;
    });
  }

  /** The case row lock serialises removals, so two concurrent ones cannot drop the last lead. */
  async removeParticipant(caseId: string, userId: string): Promise<void> {
    await this.cases.transaction(async (manager) => {
      if (!(await this.cases.lockLive(caseId, manager))) throw new NotFoundProblem('case');
      const participant = await this.cases.findParticipant(caseId, userId, manager);
      if (!participant) throw new CasesException(CasesErrorCode.NotParticipant);
      if (participant.role === 'lead' && (await this.cases.countLeads(caseId, manager)) <= 1) {
        throw new CasesException(CasesErrorCode.LastLead);
      }
      await this.cases.removeParticipant(caseId, userId, manager);
      this.invalidation.invalidate(`case:${caseId}`, manager);
      await this.audit.record(
        {
          action: 'case.participant_remove',
          resourceType: 'user',
          resourceId: userId,
          caseId,
          details: { role: participant.role },
        },
        manager,
      );
    });
  }

  listNotes(caseId: string, offset: number, limit: number): Promise<[CaseNoteEntity[], number]> {
    return this.cases.listNotes(caseId, offset, limit);
  }

  addNote(actor: Actor, caseId: string, dto: AddNoteDto): Promise<CaseNoteEntity> {
    return this.cases.transaction(async (manager) => {
      const note = await this.cases.addNote(
        { caseId, authorId: actor.userId, body: dto.body },
        manager,
      );
      await this.audit.record(
        { action: 'case.note_add', resourceType: 'note', resourceId: note.id, caseId },
        manager,
      );
      return note;
    });
  }
}
