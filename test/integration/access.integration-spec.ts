import { Test, TestingModule } from '@nestjs/testing';
import fc from 'fast-check';
import { randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AudioFilesRepository } from '../../src/audio-files/audio-files.repository';
import { CasesRepository } from '../../src/cases/cases.repository';
import { ConversationsRepository } from '../../src/conversations/conversations.repository';
import {
  AccessDecision,
  AccessLevel,
  accessScope,
  decide,
  ResourceKind,
  Standing,
} from '../../src/core/access/access-decision';
import { AccessModule } from '../../src/core/access/access.module';
import { AccessRepository } from '../../src/core/access/access.repository';
import { AccessService } from '../../src/core/access/access.service';
import { CacheInvalidation } from '../../src/core/cache/cache-invalidation';
import { CacheModule } from '../../src/core/cache/cache.module';
import { ConfigModule } from '../../src/core/config/config.module';
import { DatabaseModule } from '../../src/core/database/database.module';
import type { Actor } from '../../src/core/security/actor';
import { SearchRepository } from '../../src/search/search.repository';
import { AccessWorld, actorOf } from '../support/access-world';
import { isolatedDatabase } from '../support/isolated-database';

/**
 * The access layer below HTTP: AccessRepository, AccessService and decide() against a
 * real Postgres, and the list/search queries (through their repositories) that must
 * agree with them. A database of its own, so "every visible case" means this spec's.
 */
describe('Access layer (integration)', () => {
  let database: { url: string; drop: () => Promise<void> };
  let moduleRef: TestingModule;
  let db: DataSource;
  let world: AccessWorld;
  let access: AccessService;
  let repository: AccessRepository;
  const savedUrl = process.env.DATABASE_URL;

  beforeAll(async () => {
    database = await isolatedDatabase('access');
    process.env.DATABASE_URL = database.url;
    moduleRef = await Test.createTestingModule({
      imports: [ConfigModule, DatabaseModule, CacheModule, AccessModule],
      providers: [CasesRepository, AudioFilesRepository, ConversationsRepository, SearchRepository],
    }).compile();
    await moduleRef.init();
    db = moduleRef.get(DataSource);
    world = new AccessWorld(db);
    access = moduleRef.get(AccessService);
    repository = moduleRef.get(AccessRepository);
  });

  afterAll(async () => {
    await moduleRef?.close();
    process.env.DATABASE_URL = savedUrl;
    await database?.drop();
  });

  /** What each standing allows at read, write, manage (the product's rule, written out). */
  const ALLOWS: Record<'lead' | 'owner' | 'member' | 'viewer' | 'none' | 'gone', AccessDecision[]> =
    {
      lead: ['allowed', 'allowed', 'allowed'],
      owner: ['allowed', 'allowed', 'allowed'],
      member: ['allowed', 'allowed', 'forbidden'],
      viewer: ['allowed', 'forbidden', 'forbidden'],
      none: ['invisible', 'invisible', 'invisible'],
      gone: ['invisible', 'invisible', 'invisible'],
    };
  const LEVELS: AccessLevel[] = ['read', 'write', 'manage'];

  describe('every role × participation × resource kind', () => {
    type Caller =
      | 'lead'
      | 'member'
      | 'viewer'
      | 'outsider'
      | 'conversationOnly'
      | 'conversationOwner'
      | 'conversationViewer'
      | 'admin';
    const CALLERS: Caller[] = [
      'lead',
      'member',
      'viewer',
      'outsider',
      'conversationOnly',
      'conversationOwner',
      'conversationViewer',
      'admin',
    ];
    const users = {} as Record<Caller, string>;
    /** Resource name → kind and id. */
    const resources: Record<string, { kind: ResourceKind; id: string }> = {};

    beforeAll(async () => {
      for (const caller of CALLERS) users[caller] = await world.user();
      const { lead, member, viewer, conversationOnly, conversationOwner, conversationViewer } =
        users;
      const live = await world.case(lead);
      const deleted = await world.case(lead, { deleted: true });
      for (const caseId of [live, deleted]) {
        await world.participant(caseId, lead, 'lead');
        await world.participant(caseId, member, 'member');
        await world.participant(caseId, viewer, 'viewer');
      }
      const audio = await world.audio(live, lead);
      const deletedAudio = await world.audio(live, lead, { deleted: true });
      const audioOfDeletedCase = await world.audio(deleted, lead);
      const linked = await world.conversation(lead, { caseId: live });
      const unlinked = await world.conversation(conversationOnly);
      const linkedToDeleted = await world.conversation(lead, { caseId: deleted });
      const deletedConversation = await world.conversation(conversationOnly, { deleted: true });
      for (const id of [linked, unlinked, linkedToDeleted, deletedConversation]) {
        await world.conversationParticipant(id, conversationOnly);
        await world.conversationParticipant(id, conversationOwner, 'owner');
        await world.conversationParticipant(id, conversationViewer, 'viewer');
      }
      // The conversation role wins over the one the case lends: a case member made a
      // viewer of the linked conversation is read-only there.
      await world.conversationParticipant(linked, member, 'viewer');
      Object.assign(resources, {
        case: { kind: 'case', id: live },
        'deleted case': { kind: 'case', id: deleted },
        'missing case': { kind: 'case', id: randomUUID() },
        audio: { kind: 'audio', id: audio },
        'deleted audio': { kind: 'audio', id: deletedAudio },
        'audio of a deleted case': { kind: 'audio', id: audioOfDeletedCase },
        transcription: {
          kind: 'transcription',
          id: await world.transcription(audio, live, lead),
        },
        'transcription of deleted audio': {
          kind: 'transcription',
          id: await world.transcription(deletedAudio, live, lead),
        },
        'transcription of a deleted case': {
          kind: 'transcription',
          id: await world.transcription(audioOfDeletedCase, deleted, lead),
        },
        'conversation linked to the case': { kind: 'conversation', id: linked },
        'conversation without a case': { kind: 'conversation', id: unlinked },
        'conversation linked to a deleted case': { kind: 'conversation', id: linkedToDeleted },
        'deleted conversation': { kind: 'conversation', id: deletedConversation },
      });
    });

    type Expected = 'lead' | 'owner' | 'member' | 'viewer' | 'none' | 'gone';
    const CASE_LIKE: Record<Caller, Expected> = {
      lead: 'lead',
      member: 'member',
      viewer: 'viewer',
      outsider: 'none',
      conversationOnly: 'none',
      conversationOwner: 'none',
      conversationViewer: 'none',
      admin: 'none',
    };
    const GONE: Record<Caller, Expected> = {
      lead: 'gone',
      member: 'gone',
      viewer: 'gone',
      outsider: 'gone',
      conversationOnly: 'gone',
      conversationOwner: 'gone',
      conversationViewer: 'gone',
      admin: 'gone',
    };
    /** Each conversation participant's own role. */
    const CONVERSATION_ROLES: Partial<Record<Caller, Expected>> = {
      conversationOnly: 'member',
      conversationOwner: 'owner',
      conversationViewer: 'viewer',
    };
    const EXPECTED: Record<string, Record<Caller, Expected>> = {
      case: CASE_LIKE,
      'deleted case': GONE,
      'missing case': GONE,
      audio: CASE_LIKE,
      'deleted audio': GONE,
      'audio of a deleted case': GONE,
      transcription: CASE_LIKE,
      'transcription of deleted audio': GONE,
      'transcription of a deleted case': GONE,
      // Conversation participants have their own role; the linked case lends its
      // participants theirs, a lead as member (only owners manage a conversation), unless
      // the conversation gives them one (member is a viewer of this one).
      'conversation linked to the case': {
        ...CASE_LIKE,
        ...CONVERSATION_ROLES,
        lead: 'member',
        member: 'viewer',
      },
      'conversation without a case': {
        ...CASE_LIKE,
        lead: 'none',
        member: 'none',
        viewer: 'none',
        ...CONVERSATION_ROLES,
      },
      // A deleted case no longer lends its participants the conversation.
      'conversation linked to a deleted case': {
        ...CASE_LIKE,
        lead: 'none',
        member: 'none',
        viewer: 'none',
        ...CONVERSATION_ROLES,
      },
      'deleted conversation': GONE,
    };

    const cases = Object.entries(EXPECTED).flatMap(([resource, byCaller]) =>
      CALLERS.map((caller) => ({ resource, caller, expected: byCaller[caller] })),
    );

    it.each(cases)('$resource as $caller: $expected', async ({ resource, caller, expected }) => {
      const { kind, id } = resources[resource]!;
      const actor = actorOf(users[caller], caller === 'admin');
      const standing = await access.standing(kind, actor, id);
      const want: Standing =
        expected === 'gone' ? undefined : expected === 'none' ? null : expected;
      expect(standing).toBe(want);
      // The batch read answers the same: absent when gone.
      const batch = await repository.participations(kind, [id], actor.userId);
      expect(batch.has(id)).toBe(expected !== 'gone');
      if (expected !== 'gone') expect(batch.get(id)).toBe(want);

      const decisions = LEVELS.map((level) => decide(actor, standing, level));
      // cases:all opens every resource that exists, at every level; nothing else changes.
      const wanted =
        caller === 'admin' && expected !== 'gone'
          ? ['allowed', 'allowed', 'allowed']
          : ALLOWS[expected];
      expect(decisions).toEqual(wanted);
      for (const level of LEVELS) {
        expect((await access.check(kind, actor, id, level)).decision).toBe(
          wanted[LEVELS.indexOf(level)],
        );
      }
    });

    it('answers many ids of one kind in one call, leaving out missing, deleted and malformed ids', async () => {
      const ids = [
        resources.case!.id,
        resources['deleted case']!.id,
        resources['missing case']!.id,
        'not-a-uuid',
        resources.case!.id.toUpperCase(),
      ];
      const viewer = await repository.participations('case', ids, users.viewer);
      expect([...viewer.entries()]).toEqual([
        [resources.case!.id, 'viewer'],
        [resources.case!.id.toUpperCase(), 'viewer'],
      ]);
      const outsider = await repository.participations('case', ids, users.outsider);
      expect(outsider.get(resources.case!.id)).toBeNull();
      expect(await repository.participations('audio', [], users.lead)).toEqual(new Map());
    });
  });

  describe('the cache', () => {
    it('drops a cached case standing when the participant is removed, by any writer', async () => {
      await moduleRef.get(CacheInvalidation).whenLive();
      const lead = await world.user();
      const member = await world.user();
      const caseId = await world.case(lead);
      await world.participant(caseId, member, 'member');
      const actor = actorOf(member);
      expect(await access.standing('case', actor, caseId)).toBe('member');
      // Another writer (plain SQL): the trigger's NOTIFY is what reaches the cache.
      await db.query('DELETE FROM case_participants WHERE case_id = $1 AND user_id = $2', [
        caseId,
        member,
      ]);
      const until = Date.now() + 5_000;
      let standing: Standing = 'member';
      while (standing !== null && Date.now() < until) {
        standing = await access.standing('case', actor, caseId);
        if (standing !== null) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(standing).toBeNull();
    });
  });

  /**
   * Property: on random worlds (cases with random participants and deletions, audio,
   * transcriptions, conversations linked or not), for every user with and without
   * cases:all, a resource is listed (cases, audio, conversations lists; cases and
   * transcription search) exactly when decide(…, 'read') allows it.
   */
  describe('the guard and the lists agree', () => {
    const ROLES = ['lead', 'member', 'viewer'] as const;
    const worldArbitrary = fc.record({
      users: fc.integer({ min: 1, max: 4 }),
      cases: fc.array(
        fc.record({
          deleted: fc.boolean(),
          participants: fc.array(fc.tuple(fc.nat(3), fc.constantFrom(...ROLES)), {
            maxLength: 4,
          }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      audio: fc.array(fc.record({ caseIndex: fc.nat(3), deleted: fc.boolean() }), {
        maxLength: 4,
      }),
      conversations: fc.array(
        fc.record({
          caseIndex: fc.option(fc.nat(3)),
          deleted: fc.boolean(),
          participants: fc.array(
            fc.tuple(
              fc.nat(3),
              fc.constantFrom<'owner' | 'member' | 'viewer'>('owner', 'member', 'viewer'),
            ),
            { maxLength: 3 },
          ),
        }),
        { maxLength: 4 },
      ),
    });

    it('on random data', async () => {
      const cases = moduleRef.get(CasesRepository);
      const audioFiles = moduleRef.get(AudioFilesRepository);
      const conversations = moduleRef.get(ConversationsRepository);
      const search = moduleRef.get(SearchRepository);

      await fc.assert(
        fc.asyncProperty(worldArbitrary, async (shape) => {
          // A word of this run only: searches then find this world and nothing else.
          const word = `w${randomBytes(5).toString('hex')}`;
          const userIds: string[] = [];
          for (let i = 0; i < shape.users; i++) userIds.push(await world.user());
          const user = (index: number) => userIds[index % userIds.length]!;
          const caseIds: string[] = [];
          for (const c of shape.cases) {
            const id = await world.case(user(0), { deleted: c.deleted, title: `case ${word}` });
            const seen = new Set<string>();
            for (const [index, role] of c.participants) {
              if (seen.has(user(index))) continue;
              seen.add(user(index));
              await world.participant(id, user(index), role);
            }
            caseIds.push(id);
          }
          const caseOf = (index: number) => caseIds[index % caseIds.length]!;
          const audioIds: string[] = [];
          const transcriptionIds: string[] = [];
          for (const a of shape.audio) {
            const id = await world.audio(caseOf(a.caseIndex), user(0), { deleted: a.deleted });
            audioIds.push(id);
            transcriptionIds.push(
              await world.transcription(id, caseOf(a.caseIndex), user(0), `said ${word}`),
            );
          }
          const conversationIds: string[] = [];
          for (const v of shape.conversations) {
            const id = await world.conversation(user(0), {
              caseId: v.caseIndex === null ? null : caseOf(v.caseIndex),
              deleted: v.deleted,
            });
            const seen = new Set<string>();
            for (const [index, role] of v.participants) {
              if (seen.has(user(index))) continue;
              seen.add(user(index));
              await world.conversationParticipant(id, user(index), role);
            }
            conversationIds.push(id);
          }

          for (const userId of userIds) {
            for (const seesAll of [false, true]) {
              const actor: Actor = actorOf(userId, seesAll);
              const scope = accessScope(actor);
              const allowed = async (kind: ResourceKind, ids: string[]) => {
                const standings = await repository.participations(kind, ids, userId);
                return ids
                  .filter((id) => decide(actor, standings.get(id), 'read') === 'allowed')
                  .sort();
              };
              const listed = (rows: { id: string }[], ids: string[]) =>
                rows
                  .map((r) => r.id)
                  .filter((id) => ids.includes(id))
                  .sort();

              const caseList = await cases.list({
                ...scope,
                q: word,
                sort: { field: 'createdAt', descending: true },
                offset: 0,
                limit: 100,
              });
              expect(listed(caseList.rows, caseIds)).toEqual(await allowed('case', caseIds));

              const [audioRows] = await audioFiles.list({ ...scope, offset: 0, limit: 10_000 });
              expect(listed(audioRows, audioIds)).toEqual(await allowed('audio', audioIds));

              const [conversationRows] = await conversations.list({
                ...scope,
                offset: 0,
                limit: 10_000,
              });
              expect(listed(conversationRows, conversationIds)).toEqual(
                await allowed('conversation', conversationIds),
              );

              const { configs } = await search.prepare(word);
              const found = await search.search({
                ...scope,
                q: word,
                types: ['cases', 'transcriptions'],
                configs,
                offset: 0,
                limit: 100,
              });
              const ofType = (type: string) =>
                found.rows.filter((r) => r.type === type).map((r) => ({ id: r.id }));
              expect(listed(ofType('case'), caseIds)).toEqual(await allowed('case', caseIds));
              expect(listed(ofType('transcription'), transcriptionIds)).toEqual(
                await allowed('transcription', transcriptionIds),
              );
            }
          }
        }),
        { numRuns: 25 },
      );
    });
  });
});
