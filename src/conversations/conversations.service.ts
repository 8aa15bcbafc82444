import { Injectable, Logger } from '@nestjs/common';
import { DomainEvents } from '../core/events/domain-events';
import { AuditService } from '../audit/audit.service';
import { PasswordHasher } from '../auth/password-hasher';
import { accessScope } from '../core/access/access-decision';
import { AccessService } from '../core/access/access.service';
import { CacheInvalidation } from '../core/cache/cache-invalidation';
import { CoherentCache } from '../core/cache/coherent-cache';
import { LastKnown } from '../core/database/last-known';
import { postgresErrorCode, UNIQUE_VIOLATION } from '../core/database/postgres-errors';
import {
  ForbiddenProblem,
  NotFoundProblem,
  PreconditionFailedProblem,
  ValidationProblem,
} from '../core/http/problem.exception';
import { RequestContext } from '../core/http/request-context';
import type { Actor } from '../core/security/actor';
import { FailureLimiter, FailureScope, isRefusal } from '../core/security/failure-limiter';
import { Clock } from '../core/clock/clock';
import { AppConfig } from '../core/config/app-config';
import { ConversationsErrorCode, ConversationsException } from './conversations.exception';
import { ConversationChanges, ConversationsRepository } from './conversations.repository';
import {
  CreateConversationDto,
  JoinConversationDto,
  ListConversationsQuery,
  StatsResponse,
  UpdateConversationDto,
  VerifyResponse,
} from './dto/conversation.dto';
import {
  ConversationEndedReason,
  ConversationEntity,
  ConversationStatus,
} from './entities/conversation.entity';
import { FlushScheduler } from './turns/flush-scheduler';
import { gapsOf, TranscriptSeal } from './turns/transcript-seal';
import { TurnBuffer } from './turns/turn-buffer';
import { TurnsRepository } from './turns/turns.repository';

/** What PATCH /conversations/:id may change (see `update`). */
const UPDATABLE_FIELDS = ['name', 'description', 'metadata', 'joinPassword', 'caseId'] as const;

const percent = (part: number, total: number): number =>
  total === 0 ? 0 : Math.round((part / total) * 10_000) / 100;

@Injectable()
export class ConversationsService {
  private readonly logger = new Logger(ConversationsService.name);
  private readonly lastKnownForIngest = new LastKnown<ConversationStatus | null>();
  private readonly ingestStatus: CoherentCache<ConversationStatus | null>;
  private readonly partitions: CoherentCache<string | null>;

  constructor(
    private readonly conversations: ConversationsRepository,
    private readonly turns: TurnsRepository,
    private readonly access: AccessService,
    private readonly buffer: TurnBuffer,
    private readonly scheduler: FlushScheduler,
    private readonly hasher: PasswordHasher,
    private readonly limiter: FailureLimiter,
    private readonly audit: AuditService,
    private readonly context: RequestContext,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    invalidation: CacheInvalidation,
    private readonly events: DomainEvents,
  ) {
    this.ingestStatus = invalidation.create({ maxEntries: 10_000, ttlMs: 10 * 60_000 });
    this.partitions = invalidation.create({ maxEntries: 10_000, ttlMs: 10 * 60_000 });
  }

  async create(actor: Actor, dto: CreateConversationDto): Promise<ConversationEntity> {
    if (dto.caseId) await this.assertCaseLinkable(actor, dto.caseId);
    const joinPasswordHash = dto.joinPassword ? await this.hasher.hash(dto.joinPassword) : null;
    const partitionMonth = `${this.clock.now().toISOString().slice(0, 7)}-01`;
    try {
      return await this.conversations.transaction(async (manager) => {
        if (await this.conversations.activeNameTaken(dto.name, manager)) {
          throw new ConversationsException(ConversationsErrorCode.NameTaken);
        }
        await this.conversations.ensurePartition(partitionMonth, manager);
        const created = await this.conversations.insert(
          {
            name: dto.name,
            description: dto.description ?? '',
            caseId: dto.caseId ?? null,
            metadata: dto.metadata ?? {},
            joinPasswordHash,
            createdBy: actor.userId,
            partitionMonth,
          },
          manager,
        );
        await this.conversations.addParticipant(
          { conversationId: created.id, userId: actor.userId, via: 'creator', role: 'owner' },
          manager,
        );
        await this.audit.record(
          {
            action: 'conversation.create',
            resourceType: 'conversation',
            resourceId: created.id,
            caseId: created.caseId ?? undefined,
            details: { name: created.name, joinable: joinPasswordHash !== null },
          },
          manager,
        );
        return created;
      });
    } catch (error) {
      if (postgresErrorCode(error) === UNIQUE_VIOLATION)
        throw new ConversationsException(ConversationsErrorCode.NameTaken);
      throw error;
    }
  }

  /**
   * Linking adds the conversation to the case, so it takes what writing to the case takes
   * (the access layer's `write`): a lead or member, or a holder of cases:all. A viewer
   * sees the case but may not add to it (403); an invisible case is 422 like a missing one.
   */
  private async assertCaseLinkable(actor: Actor, caseId: string): Promise<void> {
    const { decision, participation } = await this.access.check('case', actor, caseId, 'write');
    if (decision === 'invisible')
      throw new ConversationsException(ConversationsErrorCode.UnknownCase);
    if (decision === 'forbidden') {
      throw new ForbiddenProblem(
        `As a ${participation} of this case you cannot attach a conversation to it.`,
      );
    }
  }

  list(actor: Actor, query: ListConversationsQuery): Promise<[ConversationEntity[], number]> {
    return this.conversations.list({
      ...accessScope(actor),
      status: query.status,
      caseId: query.caseId,
      offset: query.offset,
      limit: query.limit,
    });
  }

  /**
   * The conversation's status, which is all the ingestion path checks: cached until it
   * changes, and served from the last known value while Postgres is unreachable; the
   * Redis closed flag still stops turns after an end.
   */
  async statusForIngest(id: string): Promise<ConversationStatus> {
    const status = await this.ingestStatus.get(
      id,
      () => this.lastKnownForIngest.get(id, () => this.conversations.status(id)),
      () => [`conversation:${id}`],
    );
    if (!status) throw new NotFoundProblem('conversation');
    return status;
  }

  /**
   * The partition month of a conversation that is not deleted (404 otherwise), which is
   * all the turn paths need of it (every PATCH, single-turn read and list page). Fixed at
   * creation, so cached like statusForIngest and dropped in every process when the row
   * changes (a delete included): no Postgres round trip per request.
   */
  async partitionMonth(id: string): Promise<string> {
    const month = await this.partitions.get(
      id,
      async () => (await this.conversations.findLive(id))?.partitionMonth ?? null,
      () => [`conversation:${id}`],
    );
    if (!month) throw new NotFoundProblem('conversation');
    return month;
  }

  async get(id: string): Promise<ConversationEntity> {
    const conversation = await this.conversations.findLive(id);
    if (!conversation) throw new NotFoundProblem('conversation');
    return conversation;
  }

  /**
   * Invalidation tags a change to who may see the conversation fires (its participants,
   * its linked case's participants): a live stream of it re-checks access on them.
   */
  async accessTags(id: string): Promise<string[]> {
    const conversation = await this.get(id);
    return [`conversation:${id}`, ...(conversation.caseId ? [`case:${conversation.caseId}`] : [])];
  }

  /**
   * Name, description and metadata take `write` (the guard's check). The join password
   * and the case link take `manage` (an owner, or cases:all), checked here: they decide
   * who can come in. A new link also needs write standing on the case (as on create);
   * `caseId: null` unlinks without a case check, `joinPassword: null` stops joining.
   */
  async update(
    actor: Actor,
    id: string,
    dto: UpdateConversationDto,
    expectedVersion?: number,
  ): Promise<ConversationEntity> {
    // A body that is not JSON (no body, multipart) reaches here as an empty DTO: an
    // update that changes nothing is refused rather than bumping the version for nothing.
    const fields = UPDATABLE_FIELDS.filter((field) => dto[field] !== undefined);
    if (fields.length === 0) {
      throw new ValidationProblem(
        [
          {
            field: 'body',
            message: `body must change at least one of ${UPDATABLE_FIELDS.join(', ')}`,
          },
        ],
        'The request changes nothing.',
      );
    }
    const { joinPassword, caseId, ...plain } = dto;
    if (joinPassword !== undefined || caseId !== undefined) {
      const { decision } = await this.access.check('conversation', actor, id, 'manage');
      if (decision === 'invisible') throw new NotFoundProblem('conversation');
      if (decision === 'forbidden') {
        throw new ForbiddenProblem(
          'Only an owner of the conversation (or a holder of cases:all) can change its join password or case.',
        );
      }
    }
    if (caseId) await this.assertCaseLinkable(actor, caseId);
    const changes: ConversationChanges = { ...plain };
    if (caseId !== undefined) changes.caseId = caseId;
    if (joinPassword !== undefined) {
      changes.joinPasswordHash =
        joinPassword === null ? null : await this.hasher.hash(joinPassword);
    }
    try {
      return await this.conversations.transaction(async (manager) => {
        const current = await this.conversations.lockLive(id, manager);
        if (!current) throw new NotFoundProblem('conversation');
        if (expectedVersion !== undefined && expectedVersion !== current.version)
          throw new PreconditionFailedProblem();
        if (current.status !== 'active')
          throw new ConversationsException(ConversationsErrorCode.NotActive);
        if (dto.name && (await this.conversations.activeNameTaken(dto.name, manager, id))) {
          throw new ConversationsException(ConversationsErrorCode.NameTaken);
        }
        const updated = await this.conversations.update(id, changes, current.version, manager);
        await this.audit.record(
          {
            action: 'conversation.update',
            resourceType: 'conversation',
            resourceId: id,
            caseId: updated!.caseId ?? current.caseId ?? undefined,
            details: {
              fields,
              ...(caseId !== undefined ? { caseFrom: current.caseId, caseTo: caseId } : {}),
              ...(joinPassword !== undefined
                ? { joinPassword: joinPassword === null ? 'removed' : 'set' }
                : {}),
            },
          },
          manager,
        );
        return updated!;
      });
    } catch (error) {
      if (postgresErrorCode(error) === UNIQUE_VIOLATION)
        throw new ConversationsException(ConversationsErrorCode.NameTaken);
      throw error;
    }
  }

  /**
   * Soft delete: status `deleted`, so the conversation leaves every list and read (404,
   * the access layer's standing query skips it), its name leaves the unique index of
   * active names, and no turn is accepted any more (the Redis closed flag, as on end).
   * Turns already accepted are still persisted; the transcript is kept.
   */
  async delete(id: string): Promise<void> {
    const deleted = await this.conversations.transaction(async (manager) => {
      const current = await this.conversations.lockLive(id, manager);
      if (!current) throw new NotFoundProblem('conversation');
      await this.conversations.update(id, { status: 'deleted' }, current.version, manager);
      await this.audit.record(
        {
          action: 'conversation.delete',
          resourceType: 'conversation',
          resourceId: id,
          caseId: current.caseId ?? undefined,
          details: { name: current.name, status: current.status },
        },
        manager,
      );
      return current;
    });
    if (deleted.status === 'active') await this.buffer.markClosed(id);
  }

  /** Joining is rate-limited like login: per conversation name and per IP. */
  async join(actor: Actor, dto: JoinConversationDto): Promise<ConversationEntity> {
    const maxFailures = this.config.get('LOGIN_MAX_FAILURES');
    const windowMs = this.config.get('LOGIN_LOCK_MINUTES') * 60_000;
    const scopes: FailureScope[] = [
      { key: `join:name:${dto.name.toLowerCase()}`, maxFailures, windowMs },
      { key: `join:ip:${this.context.ip ?? 'unknown'}`, maxFailures: maxFailures * 4, windowMs },
    ];
    // Reserve the check before the password is verified, as login does, so concurrent
    // guesses cannot all pass the lock check at once (issue 11, F2; see FailureLimiter).
    const attempt = await this.limiter.attempt(scopes);
    if (isRefusal(attempt)) {
      throw new ConversationsException(
        ConversationsErrorCode.JoinLocked,
        attempt.reason === 'busy'
          ? 'Too many attempts to join are being checked at once. Retry shortly.'
          : undefined,
        { 'retry-after': String(Math.max(1, Math.ceil(attempt.retryAfterMs / 1000))) },
      );
    }
    let conversation: ConversationEntity | null;
    let ok: boolean;
    try {
      conversation = await this.conversations.findActiveByNameForJoin(dto.name);
      ok = await this.hasher.verify(conversation?.joinPasswordHash ?? undefined, dto.password);
    } catch (error) {
      await attempt.release();
      throw error;
    }
    if (!conversation || !ok) {
      await attempt.failed();
      await this.audit.record({
        action: 'conversation.join_failed',
        resourceType: 'conversation',
        resourceId: conversation?.id,
        outcome: 'failure',
      });
      throw new ConversationsException(ConversationsErrorCode.JoinRefused);
    }
    await attempt.release();
    await this.conversations.transaction(async (manager) => {
      // A member; someone who already takes part keeps their role (an owner is never
      // demoted, a viewer never promoted, by joining).
      await this.conversations.addParticipant(
        { conversationId: conversation.id, userId: actor.userId, via: 'join', role: 'member' },
        manager,
      );
      await this.audit.record(
        {
          action: 'conversation.join',
          resourceType: 'conversation',
          resourceId: conversation.id,
          caseId: conversation.caseId ?? undefined,
        },
        manager,
      );
    });
    return this.get(conversation.id);
  }

  /**
   * Ends the conversation: no more turns are accepted (the Redis flag makes that
   * atomic with ingestion), then once every accepted turn is persisted the transcript
   * is sealed. If the buffer does not drain in time the seal is left to a job.
   * `idleBefore` (the idle sweep) ends it only if it is still idle under the row lock:
   * no turn persisted since and none waiting in the buffer; otherwise it returns null.
   */
  async end(
    id: string,
    options: { waitMs?: number; reason?: ConversationEndedReason; idleBefore?: Date } = {},
  ): Promise<{ conversation: ConversationEntity; sealJobId?: string } | null> {
    const { waitMs = 10_000, reason = 'request', idleBefore } = options;
    const ended = await this.conversations.transaction(async (manager) => {
      const current = await this.conversations.lockLive(id, manager);
      if (!current) throw new NotFoundProblem('conversation');
      if (current.status !== 'active')
        throw new ConversationsException(ConversationsErrorCode.NotActive);
      if (idleBefore) {
        const lastActivity = current.lastActivityAt ?? current.createdAt;
        if (lastActivity >= idleBefore || (await this.buffer.pendingCount(id)) > 0) return null;
      }
      const updated = await this.conversations.update(
        id,
        { status: 'archived', endedAt: this.clock.now(), endedReason: reason },
        current.version,
        manager,
      );
      await this.audit.record(
        {
          action: 'conversation.end',
          resourceType: 'conversation',
          resourceId: id,
          caseId: current.caseId ?? undefined,
          details: { reason },
        },
        manager,
      );
      // Its participants hear of it besides the linked case's; nobody is the actor of an
      // idle end (the sweep).
      await this.events.publish(
        {
          type: 'conversation.ended',
          actorId: idleBefore ? null : (this.context.actor?.userId ?? null),
          caseId: current.caseId,
          resourceType: 'conversation',
          resourceId: id,
          title: `Conversation "${current.name}" ended${reason === 'idle' ? ' (idle)' : ''}`,
          alsoNotify: await this.conversations.participantIds(id, manager),
          data: { conversationId: id, name: current.name, reason },
          occurredAt: this.clock.now(),
        },
        manager,
      );
      return updated!;
    });
    if (!ended) return null;
    await this.buffer.markClosed(id);
    const deadline = this.clock.nowMs() + waitMs;
    while ((await this.buffer.pendingCount(id)) > 0) {
      if (this.clock.nowMs() > deadline) {
        return {
          conversation: ended,
          sealJobId: await this.scheduler.requestSeal(id, this.context.actor?.userId ?? null),
        };
      }
      await this.scheduler.flushNow();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { conversation: await this.seal(id) };
  }

  /**
   * The idle sweep (a repeatable job, CONVERSATION_IDLE_MINUTES; 0 turns it off): ends
   * and seals, through `end`, each active conversation with no new turn for that long,
   * with `endedReason: "idle"`. One that a client ends meanwhile, or that takes a turn,
   * is skipped. Returns the ids it ended.
   */
  async endIdle(limit = 100): Promise<string[]> {
    const minutes = this.config.get('CONVERSATION_IDLE_MINUTES');
    if (minutes === 0) return [];
    const cutoff = this.clock.fromNow(-minutes * 60_000);
    const ended: string[] = [];
    for (const id of await this.conversations.idleSince(cutoff, limit)) {
      try {
        if (await this.end(id, { reason: 'idle', idleBefore: cutoff })) ended.push(id);
      } catch (error) {
        // Ended, deleted or changed by someone else since it was listed: nothing to do.
        if (error instanceof ConversationsException || error instanceof NotFoundProblem) continue;
        throw error;
      }
    }
    return ended;
  }

  /**
   * Computes and stores the seal; used by end() and by the seal job. Live subscribers
   * then get `conversation.ended` with the seal (best effort: the seal is stored).
   */
  async seal(id: string): Promise<ConversationEntity> {
    const conversation = await this.get(id);
    if (conversation.sealHash) return conversation;
    const seal = await this.computeSeal(conversation);
    const result = await this.conversations.transaction(async (manager) => {
      const sealed = await this.conversations.update(
        id,
        { sealHash: seal.digest(), sealedAt: this.clock.now() },
        undefined,
        manager,
      );
      await this.audit.record(
        {
          action: 'conversation.seal',
          resourceType: 'conversation',
          resourceId: id,
          caseId: conversation.caseId ?? undefined,
          details: { turns: seal.turns, sealHash: sealed!.sealHash },
        },
        manager,
      );
      return sealed!;
    });
    await this.buffer
      .publishEnded(id, result.sealHash)
      .catch((error: unknown) =>
        this.logger.warn({ err: String(error), id }, 'conversation.ended not published'),
      );
    return result;
  }

  pendingCount(id: string): Promise<number> {
    return this.buffer.pendingCount(id);
  }

  private async computeSeal(conversation: ConversationEntity): Promise<TranscriptSeal> {
    const seal = new TranscriptSeal();
    for await (const batch of this.turns.inOrder(conversation.id, conversation.partitionMonth)) {
      batch.forEach((turn) => seal.add(turn));
    }
    return seal;
  }

  async verify(id: string): Promise<VerifyResponse> {
    const conversation = await this.get(id);
    const seal = await this.computeSeal(conversation);
    const computedHash = seal.digest();
    return {
      valid: conversation.sealHash !== null && conversation.sealHash === computedHash,
      sealHash: conversation.sealHash,
      computedHash,
      turns: seal.turns,
    };
  }

  async stats(id: string): Promise<StatsResponse> {
    const conversation = await this.get(id);
    const [stats, ranges, pending] = await Promise.all([
      this.turns.stats(id, conversation.partitionMonth),
      this.turns.numberRanges(id, conversation.partitionMonth),
      this.buffer.pendingNumbers(id),
    ]);
    return {
      turns: stats.turns,
      buffered: pending.length,
      speakers: stats.speakers,
      averageProcessingTimeMs: stats.averageProcessingTimeMs,
      averageQueueTimeMs: stats.averageQueueTimeMs,
      confidenceDistribution: {
        HIGH: percent(stats.confidence.high, stats.turns),
        MEDIUM: percent(stats.confidence.medium, stats.turns),
        LOW: percent(stats.confidence.low, stats.turns),
      },
      turnsCleaned: stats.turnsCleaned,
      errorsFiltered: stats.errorsFiltered,
      averageLatencyMs: stats.averageLatencyMs,
      contexts: stats.contexts,
      domains: stats.domains,
      turnsPerHour: stats.turnsPerHour,
      gaps: gapsOf(ranges, pending),
    };
  }
}
