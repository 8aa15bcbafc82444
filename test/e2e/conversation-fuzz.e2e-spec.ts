import fc from 'fast-check';
import type { Agent } from 'node:http';
import {
  createUser,
  CreatedUser,
  loginAsAdmin,
  Session,
  startApp,
  TestApp,
  userSession,
} from '../support/app';
import { createCase } from '../support/audio';
import { caseWithAudio, postTranscription, simpleSegments } from '../support/transcriptions';
import {
  deepJson,
  FieldRule,
  FuzzCase,
  malformedBatchBody,
  malformedCreateBody,
  malformedJoinBody,
  malformedPatch,
  malformedQuery,
  malformedSpeakerNames,
  malformedSingleBody,
  malformedUpdateBody,
  MAX_MESSAGE_NUMBER,
  nonJsonRequest,
  QUERY_KEYS,
  TURN_TEXT_FILTERS,
  unicodeText,
  validCreate,
  validTurn,
  validUpdate,
  wrongJoinBody,
} from '../support/conversation-arbitraries';
import {
  keepAliveAgent,
  percentEncode,
  portOf,
  rawRequest,
  RawResponse,
} from '../support/conversation-http';
import { createConversation, eventually, turn } from '../support/turns';

/**
 * TARGETS R7: 10,000 generated malformed requests over every conversation DTO and query
 * (SPEC section 6) get only 4xx answers, each an RFC 9457 problem document, and write
 * nothing: the caller's conversations, participations and turns (Postgres), the target
 * conversation's row, and its not-yet-persisted turns (Redis, seen through the API) are
 * the same after every chunk of requests as before it.
 *
 * Requests go out in chunks of CHUNK at once (one fast-check run = one chunk), so a
 * failure is shrunk to the smallest chunk that still fails; the report names each
 * offending request and the mutations that made it. FUZZ_SEED replays a run.
 *
 * A last property sends generated VALID turns (the same generator, unmutated) and
 * requires 202 and an exact round trip through Postgres: the generators are not
 * rejected for some incidental reason, so these tests can fail.
 */

const CHUNK = 25;
/** Requests per property; they add up to 10,000. */
const RUNS = {
  create: 1500,
  patch: 1000,
  join: 1000,
  turnSingle: 2000,
  turnBatch: 1500,
  nonJson: 1000,
  query: 2000,
  everyPatch: 1000,
};
const TOTAL = Object.values(RUNS).reduce((a, b) => a + b, 0);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
/** Generous: the whole file takes about a minute and a half on two cores. */
jest.setTimeout(240_000);

interface Snapshot {
  conversations: number;
  participations: number;
  turns: number;
  target: string;
  joinable: string;
  buffered: number;
  listed: number;
}

describe('Conversation fuzz (TARGETS R7)', () => {
  let t: TestApp;
  let port: number;
  let agent: Agent;
  let fuzzer: Session;
  let producer: Session;
  let target: { id: string; name: string };
  let joinable: { id: string; name: string };
  let admin: Session;
  /** Targets of the other PATCH routes (F9). */
  let patchTargets: {
    caseId: string;
    victim: CreatedUser;
    roleId: string;
    transcriptionId: string;
  };
  const JOIN_PASSWORD = 'fuzz-join-secret';
  let sent = 0;

  beforeAll(async () => {
    t = await startApp();
    port = portOf(t);
    agent = keepAliveAgent(CHUNK);
    admin = await loginAsAdmin(t.http);
    fuzzer = await userSession(t.http, admin, 'case_worker');
    producer = await userSession(t.http, admin, 'case_worker');
    target = await createConversation(t.http, fuzzer, { metadata: { room: 1 } });
    joinable = await createConversation(t.http, producer, { joinPassword: JOIN_PASSWORD });
    // Something to read, persisted before the fuzz starts so the baseline holds still.
    await t.http
      .post(`/api/v1/conversations/${target.id}/turns`)
      .set(fuzzer.auth)
      .send({ turns: [turn(1), turn(2), turn(3)] })
      .expect(202);
    const settled = await eventually(snapshot, (s) => s.buffered === 0 && s.turns === 3);
    expect(settled).toMatchObject({ buffered: 0, turns: 3, listed: 3 });
  });
  afterAll(async () => {
    agent.destroy();
    await t.close();
  });

  /** The rows every PATCH route of the F9 property could change, and the audit trail. */
  async function patchTargetsSnapshot(): Promise<string> {
    const [row] = await t.db.query<Record<string, string>[]>(
      `SELECT (SELECT md5(c::text) FROM cases c WHERE c.id = $1) AS "case",
              (SELECT md5(string_agg(p::text, ',' ORDER BY p.user_id)) FROM case_participants p
                WHERE p.case_id = $1) AS participants,
              (SELECT md5(u::text) FROM users u WHERE u.id = $2) AS fuzzer,
              (SELECT md5(u::text) FROM users u WHERE u.id = $3) AS victim,
              (SELECT md5(r::text) FROM roles r WHERE r.id = $4) AS role,
              (SELECT md5(string_agg(tr::text, ',' ORDER BY tr.version)) FROM transcriptions tr
                WHERE tr.audio_file_id = (SELECT audio_file_id FROM transcriptions WHERE id = $5))
                AS transcriptions,
              -- Only this spec's trail: the run's database is shared with suites running
              -- beside it, whose own entries must not count as "written by a refusal".
              (SELECT count(*) FROM audit_logs
                WHERE actor_id = ANY($6::uuid[]) OR case_id = $1
                   OR resource_id = ANY(ARRAY[$1, $2, $3, $4, $5, $7, $8]::text[]))::int AS audit`,
      [
        patchTargets.caseId,
        fuzzer.userId,
        patchTargets.victim.id,
        patchTargets.roleId,
        patchTargets.transcriptionId,
        [fuzzer.userId, patchTargets.victim.id],
        target.id,
        joinable.id,
      ],
    );
    return JSON.stringify({ ...row, conversations: await snapshot() });
  }

  async function snapshot(): Promise<Snapshot> {
    const [row] = await t.db.query<Omit<Snapshot, 'buffered' | 'listed'>[]>(
      `SELECT (SELECT count(*) FROM conversations WHERE created_by = $1)::int AS conversations,
              (SELECT count(*) FROM conversation_participants WHERE user_id = $1)::int AS participations,
              (SELECT count(*) FROM turns WHERE ingested_by = $1)::int AS turns,
              (SELECT md5(c::text) FROM conversations c WHERE c.id = $2) AS target,
              (SELECT md5(c::text) FROM conversations c WHERE c.id = $3) AS joinable`,
      [fuzzer.userId, target.id, joinable.id],
    );
    const [stats, listed] = await Promise.all([
      t.http.get(`/api/v1/conversations/${target.id}/stats`).set(fuzzer.auth).expect(200),
      t.http
        .get(`/api/v1/conversations/${target.id}/turns`)
        .query({ limit: 100 })
        .set(fuzzer.auth)
        .expect(200),
    ]);
    return {
      ...row!,
      buffered: (stats.body as { buffered: number }).buffered,
      listed: (listed.body as { data: unknown[] }).data.length,
    };
  }

  function send(c: FuzzCase): Promise<RawResponse> {
    return rawRequest(port, agent, {
      method: c.method,
      path: c.path,
      headers: { authorization: fuzzer.auth.Authorization, ...(c.headers ?? {}) },
      body: c.body,
    });
  }

  const describeCase = (c: FuzzCase) => {
    const body =
      c.body === undefined
        ? ''
        : ` body(${c.body.length}): ${String(c.body).slice(0, 200)}${c.body.length > 200 ? '…' : ''}`;
    return `[${c.label}] ${c.method} ${c.path.slice(0, 200)} ${JSON.stringify(c.headers ?? {})}${body}`;
  };

  /** What is wrong with the answer to a request that must be refused. */
  function violations(c: FuzzCase, response: RawResponse): string[] {
    const found: string[] = [];
    const where = `${describeCase(c)}\n    → ${response.status} ${response.text.slice(0, 300)}`;
    if (response.status < 400 || response.status > 499) found.push(`not a 4xx: ${where}`);
    if (!/^application\/problem\+json/.test(String(response.headers['content-type'])))
      found.push(`not problem+json (${response.headers['content-type']}): ${where}`);
    try {
      const problem = JSON.parse(response.text) as Record<string, unknown>;
      if (
        problem.status !== response.status ||
        typeof problem.type !== 'string' ||
        typeof problem.title !== 'string' ||
        typeof problem.detail !== 'string'
      )
        found.push(`incomplete problem document: ${where}`);
      // The server's own words only: `errors` may echo the client's field names.
      const own = `${String(problem.title)} ${String(problem.detail)}`;
      if (
        'stack' in problem ||
        /QueryFailedError|\bat \S+ \(|\.ts:\d+|SELECT |INSERT INTO/.test(own)
      )
        found.push(`internals leak: ${where}`);
    } catch {
      found.push(`body is not JSON: ${where}`);
    }
    return found;
  }

  /** Sends `runs` generated requests in chunks; each chunk must be refused and write nothing. */
  async function fuzz(
    runs: number,
    cases: fc.Arbitrary<FuzzCase>,
    state: () => Promise<unknown> = snapshot,
  ): Promise<void> {
    let before = await state();
    await fc.assert(
      fc.asyncProperty(fc.array(cases, { minLength: CHUNK, maxLength: CHUNK }), async (chunk) => {
        const responses = await Promise.all(chunk.map(send));
        sent += chunk.length;
        const found = chunk.flatMap((c, i) => violations(c, responses[i]!));
        if (found.length > 0) throw new Error(`${found.length} bad answers:\n${found.join('\n')}`);
        const after = await state();
        if (JSON.stringify(after) !== JSON.stringify(before)) {
          throw new Error(
            `a refused chunk wrote something: ${JSON.stringify(before)} → ${JSON.stringify(after)}\n` +
              chunk.map(describeCase).join('\n'),
          );
        }
        before = after;
      }),
      // Requests have effects, so a failing chunk is reported as found, not shrunk.
      { numRuns: Math.ceil(runs / CHUNK), seed: SEED, endOnFailure: true },
    );
  }

  const json = { 'content-type': 'application/json' };
  const conversation = (rest = '') => `/api/v1/conversations/${target.id}${rest}`;

  it(`POST /conversations: ${RUNS.create} malformed bodies`, async () => {
    await fuzz(
      RUNS.create,
      malformedCreateBody.map(({ label, body }) => ({
        label,
        method: 'POST',
        path: '/api/v1/conversations',
        headers: json,
        body,
      })),
    );
  });

  it(`PATCH /conversations/:id: ${RUNS.patch} malformed bodies (some with a bad If-Match)`, async () => {
    await fuzz(
      RUNS.patch,
      fc
        .tuple(
          malformedUpdateBody,
          fc.option(
            fc.constantFrom('"1"', '*', 'W/"1"', 'garbage', '"99999999999"', '""', '"-1"'),
            {
              freq: 5,
            },
          ),
        )
        .map(([{ label, body }, ifMatch]) => ({
          label: ifMatch ? `${label}, If-Match ${ifMatch}` : label,
          method: 'PATCH',
          path: conversation(),
          headers: { ...json, ...(ifMatch ? { 'if-match': ifMatch } : {}) },
          body,
        })),
    );
  });

  describe('every PATCH route (F9)', () => {
    beforeAll(async () => {
      const caseId = await createCase(t.http, fuzzer.auth, 'PATCH fuzz case');
      const victim = await createUser(t.http, admin, 'case_worker');
      await t.http
        .post(`/api/v1/cases/${caseId}/participants`)
        .set(fuzzer.auth)
        .send({ userId: victim.id, role: 'viewer' })
        .expect(201);
      const role = await t.http
        .post('/api/v1/roles')
        .set(admin.auth)
        .send({ name: `fuzz_${Date.now().toString(36)}`, permissions: ['cases:read'] })
        .expect(201);
      const { audioId } = await caseWithAudio(t, admin.auth);
      const transcription = await postTranscription(t.http, admin.auth, audioId, {
        segments: simpleSegments('hello there'),
      }).expect(201);
      patchTargets = {
        caseId,
        victim,
        roleId: (role.body as { id: string }).id,
        transcriptionId: (transcription.body as { id: string }).id,
      };
    });

    const TEXT = (min: number, max: number, multiline = false): FieldRule => ({
      kind: 'text',
      min,
      max,
      multiline,
    });
    /** Each PATCH route: who sends it, its fields' rules, and valid values to mix in. */
    const routes = (): {
      name: string;
      path: string;
      session: Session;
      rules: Record<string, FieldRule>;
      valid: Record<string, unknown>;
      /** Fields the body must carry: their refusal names the field, not necessarily `null`. */
      required?: string[];
    }[] => [
      {
        name: 'PATCH /cases/:id',
        path: `/api/v1/cases/${patchTargets.caseId}`,
        session: fuzzer,
        rules: {
          title: TEXT(1, 300),
          description: TEXT(0, 20_000, true),
          status: { kind: 'enum', values: ['active', 'pending'], nearMisses: ['closed', 'open'] },
          priority: {
            kind: 'enum',
            values: ['high', 'medium', 'low'],
            nearMisses: ['urgent', 'HIGH '],
          },
        },
        valid: { title: 'renamed', description: 'new', status: 'pending', priority: 'low' },
      },
      {
        name: 'PATCH /auth/me',
        path: '/api/v1/auth/me',
        session: fuzzer,
        rules: { email: { kind: 'email' }, fullName: TEXT(1, 200) },
        valid: { fullName: 'Renamed Fuzzer' },
      },
      {
        name: 'PATCH /cases/:id/participants/:userId',
        path: `/api/v1/cases/${patchTargets.caseId}/participants/${patchTargets.victim.id}`,
        session: fuzzer,
        rules: {
          role: {
            kind: 'enum',
            values: ['lead', 'member', 'viewer'],
            nearMisses: ['owner', 'LEAD', 'viewer '],
          },
        },
        valid: { role: 'member' },
        required: ['role'],
      },
      {
        name: 'PATCH /users/:id',
        path: `/api/v1/users/${patchTargets.victim.id}`,
        session: admin,
        rules: {
          email: { kind: 'email' },
          fullName: TEXT(1, 200),
          role: { kind: 'roleName' },
          isActive: { kind: 'boolean' },
          password: { kind: 'password' },
        },
        valid: { fullName: 'Renamed Victim', role: 'auditor', isActive: false },
      },
      {
        name: 'PATCH /roles/:id',
        path: `/api/v1/roles/${patchTargets.roleId}`,
        session: admin,
        rules: { description: TEXT(0, 500), permissions: { kind: 'permissions' } },
        valid: { description: 'changed', permissions: ['cases:*'] },
      },
      {
        name: 'PATCH /conversations/:id',
        path: conversation(),
        session: fuzzer,
        rules: {
          name: TEXT(1, 200),
          description: TEXT(0, 5000, true),
          metadata: { kind: 'json', maxBytes: 64 * 1024 },
        },
        valid: { description: 'changed', metadata: { changed: true } },
      },
    ];

    it(`PATCH on every route: ${RUNS.everyPatch} bodies with nulls, wrong types and boundary values`, async () => {
      const cases = fc.oneof(
        ...routes().map((route) =>
          malformedPatch(route.rules, route.valid).map(({ label, body }): FuzzCase => ({
            label: `${route.name}: ${label}`,
            method: 'PATCH',
            path: route.path,
            headers: { ...json, authorization: route.session.auth.Authorization },
            body,
          })),
        ),
        malformedSpeakerNames.map(({ label, body }): FuzzCase => ({
          label: `PATCH /transcriptions/:id/speakers: ${label}`,
          method: 'PATCH',
          path: `/api/v1/transcriptions/${patchTargets.transcriptionId}/speakers`,
          headers: { ...json, authorization: admin.auth.Authorization },
          body,
        })),
      );
      await fuzz(RUNS.everyPatch, cases, patchTargetsSnapshot);
    });

    it('F9: an explicit null on each non-nullable field of every PATCH route is a 400 naming it', async () => {
      for (const route of routes()) {
        for (const field of Object.keys(route.rules)) {
          const response = await t.http
            .patch(route.path)
            .set(route.session.auth)
            .send({ [field]: null });
          expect({ route: route.name, field, status: response.status }).toEqual({
            route: route.name,
            field,
            status: 400,
          });
          const message = route.required?.includes(field)
            ? expect.any(String)
            : expect.stringContaining('null');
          expect(response.body.errors).toEqual(expect.arrayContaining([{ field, message }]));
        }
      }
    });
  });

  it(`POST /conversations/join: ${RUNS.join} malformed or wrong bodies`, async () => {
    await fuzz(
      RUNS.join,
      fc
        .oneof(
          { weight: 19, arbitrary: malformedJoinBody },
          { weight: 1, arbitrary: wrongJoinBody },
        )
        .map(({ label, body }) => ({
          label,
          method: 'POST',
          path: '/api/v1/conversations/join',
          // One client address: wrong guesses lock it (429) instead of hashing on and on.
          headers: { ...json, 'x-forwarded-for': '198.51.100.7' },
          body,
        })),
    );
  });

  it(`POST /conversations/:id/turns: ${RUNS.turnSingle} malformed single turns`, async () => {
    await fuzz(
      RUNS.turnSingle,
      malformedSingleBody.map(({ label, body }) => ({
        label,
        method: 'POST',
        path: conversation('/turns'),
        headers: json,
        body,
      })),
    );
  });

  it(`POST /conversations/:id/turns: ${RUNS.turnBatch} malformed batches`, async () => {
    await fuzz(
      RUNS.turnBatch,
      malformedBatchBody.map(({ label, body }) => ({
        label,
        method: 'POST',
        path: conversation('/turns'),
        headers: json,
        body,
      })),
    );
  });

  it(`write endpoints: ${RUNS.nonJson} bodies that are not JSON (other media types, broken JSON)`, async () => {
    const endpoints: [FuzzCase['method'], string, fc.Arbitrary<Record<string, unknown>>][] = [
      ['POST', '/api/v1/conversations', validCreate],
      ['PATCH', conversation(), validUpdate],
      // The right password: joining through a non-JSON body would show as a new participation.
      [
        'POST',
        '/api/v1/conversations/join',
        fc.constant({ name: joinable.name, password: JOIN_PASSWORD }),
      ],
      ['POST', conversation('/turns'), validTurn()],
      ['POST', conversation('/turns'), validTurn().map((x) => ({ turns: [x] }))],
    ];
    await fuzz(
      RUNS.nonJson,
      fc.constantFrom(...endpoints).chain(([method, path, valid]) =>
        nonJsonRequest(valid).map(({ label, headers, body }) => ({
          label,
          method,
          path,
          headers,
          body,
        })),
      ),
    );
  });

  it(`GET query strings: ${RUNS.query} malformed (list, turns, window, recent; bad ids on every read)`, async () => {
    const badId = fc
      .oneof(
        fc
          .string({ minLength: 1, maxLength: 40 })
          .filter(
            (s) => !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s),
          ),
        fc.uuid().map((u) => `${u}0`),
        fc.uuid().map((u) => u.replace(/-/g, '')),
        fc.uuid(),
        fc.constant(`${target.id} `),
        fc.constantFrom(
          '..',
          '.',
          '%2e%2e',
          'null',
          'undefined',
          '0',
          '-1',
          "1' OR '1'='1",
          '\u0000',
        ),
        fc.integer({ min: 100, max: 6000 }).map((n) => 'a'.repeat(n)),
      )
      .filter((id) => id.toLowerCase() !== target.id)
      .map((id) => (id === '%2e%2e' ? id : percentEncode(id)));
    const reads = ['', '/verify', '/stats', '/turns', '/turns/recent', '/turns/window'];
    const at = (rest: string) => (q: { label: string; query: string }) => ({
      label: q.label,
      method: 'GET' as const,
      path: `${conversation(rest)}?${q.query}`,
    });
    await fuzz(
      RUNS.query,
      fc.oneof(
        {
          weight: 5,
          arbitrary: malformedQuery(QUERY_KEYS.list).map((q) => ({
            ...at('')(q),
            path: `/api/v1/conversations?${q.query}`,
          })),
        },
        {
          weight: 5,
          arbitrary: malformedQuery(QUERY_KEYS.turns, TURN_TEXT_FILTERS).map(at('/turns')),
        },
        { weight: 4, arbitrary: malformedQuery(QUERY_KEYS.window).map(at('/turns/window')) },
        { weight: 3, arbitrary: malformedQuery(QUERY_KEYS.recent).map(at('/turns/recent')) },
        {
          weight: 3,
          arbitrary: fc
            .tuple(
              badId,
              fc.constantFrom(...reads),
              fc.constantFrom('', '?limit=0', '?x=1', '?after=-1&size=0'),
            )
            .map(([id, rest, query]) => ({
              label: `id ${id.slice(0, 40)}`,
              method: 'GET' as const,
              path: `/api/v1/conversations/${id}${rest}${query}`,
            })),
        },
      ),
    );
  });

  it('refuses, without writing, every input the fuzz once found getting through', async () => {
    // Each was a 5xx, a write, or a 202 whose turn then failed every persistence batch.
    const deep = deepJson(5000);
    const single = (over: Record<string, unknown>) => JSON.stringify(turn(1, over));
    const post = (
      path: string,
      body: string,
      label: string,
      headers: Record<string, string> = json,
    ): FuzzCase => ({
      label,
      method: 'POST',
      path,
      headers,
      body,
    });
    const patch = (
      body: string | undefined,
      label: string,
      headers: Record<string, string> = json,
    ): FuzzCase => ({
      label,
      method: 'PATCH',
      path: conversation(),
      headers,
      body,
    });
    const turns = conversation('/turns');
    const cases: FuzzCase[] = [
      post(turns, single({ spokenAt: '2024-W01-1' }), 'ISO week date (500)'),
      post(turns, single({ spokenAt: '20240101T000000Z' }), 'ISO basic format (500)'),
      post(
        turns,
        single({ spokenAt: '9999-12-31T23:59:59.999-23:59' }),
        'year 10000 in UTC (poison)',
      ),
      post(turns, single({ rawText: 'a\u0000b' }), 'NUL in text (poison)'),
      post(turns, single({ speaker: 'x\ud800' }), 'lone surrogate in text'),
      post(
        turns,
        single({
          corrections: [
            {
              original: '\ud800',
              corrected: 'x',
              confidence: 0.5,
              reason: 'r',
              position: { start: 0, end: 1 },
            },
          ],
        }),
        'lone surrogate in jsonb (poison)',
      ),
      post(turns, single({ corrections: [[]] }), 'corrections [[]] (500)'),
      post(
        turns,
        single({ corrections: [{ original: 'a', corrected: 'b', confidence: 0.5, reason: 'r' }] }),
        'correction without position (500)',
      ),
      post(turns, JSON.stringify({ turns: [[]] }), 'turns [[]]'),
      post(
        turns,
        `{"turns":[{"messageNumber":1,"corrections":${deep}}]}`,
        'deep corrections (500)',
      ),
      post(turns, single({ hasOwnProperty: 1 }), 'hasOwnProperty slips past the whitelist'),
      post(turns, single({ constructor: 1 }), 'constructor is silently dropped'),
      post('/api/v1/conversations', `{"name":"deep","metadata":${deep}}`, 'deep metadata (500)'),
      post(
        '/api/v1/conversations',
        JSON.stringify({ name: 'nul', description: 'x\u0000' }),
        'NUL (500)',
      ),
      post(
        '/api/v1/conversations',
        JSON.stringify({ name: 'nul', metadata: { 'k\u0000': 1 } }),
        'NUL key (500)',
      ),
      post('/api/v1/conversations', JSON.stringify({ name: 'sur\ud800' }), 'lone surrogate (500)'),
      post(
        '/api/v1/conversations',
        JSON.stringify({ name: 'x', hasOwnProperty: true }),
        'hasOwnProperty (201)',
      ),
      post('/api/v1/conversations', JSON.stringify({ name: 'x', prototype: 1 }), 'prototype (201)'),
      post(
        '/api/v1/conversations',
        JSON.stringify({ name: 'x', metadata: { constructor: 1 } }),
        'constructor deep',
      ),
      post('/api/v1/conversations', 'name=via-form', 'form body (201)', {
        'content-type': 'application/x-www-form-urlencoded',
      }),
      post(
        '/api/v1/conversations/join',
        `name=${encodeURIComponent(joinable.name)}&password=${JOIN_PASSWORD}`,
        'join with a form body (joined)',
        { 'content-type': 'application/x-www-form-urlencoded' },
      ),
      post(
        '/api/v1/conversations/join',
        JSON.stringify({ name: 'x\u0000', password: 'y' }),
        'NUL (500)',
      ),
      patch(`{"metadata":${deep}}`, 'deep metadata (500)'),
      patch(JSON.stringify({ description: 'x\u0000' }), 'NUL (500)'),
      patch('null', 'null body (200, version bumped)'),
      patch('{}', 'empty patch (200, version bumped)'),
      patch(undefined, 'no body (200, version bumped)', {}),
      patch('--XyZ\r\n\r\n--XyZ--\r\n', 'multipart (200, version bumped)', {
        'content-type': 'multipart/form-data; boundary=XyZ',
      }),
      patch(JSON.stringify({ description: 'x', hasOwnProperty: 1 }), 'hasOwnProperty'),
      {
        label: 'before beyond int4 (500)',
        method: 'GET',
        path: conversation('/turns/window?before=99999999999999999999'),
      },
      {
        label: 'before=1e300 (500)',
        method: 'GET',
        path: conversation('/turns/window?before=1e300'),
      },
      { label: 'NUL in a query', method: 'GET', path: '/api/v1/conversations?status=%00' },
      {
        label: 'over maxParamLength (414 without problem+json)',
        method: 'GET',
        path: `/api/v1/conversations/${'a'.repeat(300)}/stats`,
      },
      {
        label: 'broken %-escape in the path',
        method: 'GET',
        path: '/api/v1/conversations/%E0%A4%A/stats',
      },
    ];
    const before = await snapshot();
    const responses = await Promise.all(cases.map(send));
    const found = cases.flatMap((c, i) => violations(c, responses[i]!));
    expect(found).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it('persists a confidence too small for a 4-byte float as 0 instead of stalling the batch', async () => {
    const conversationOf = await createConversation(t.http, producer);
    const path = `/api/v1/conversations/${conversationOf.id}/turns`;
    await t.http
      .post(path)
      .set(producer.auth)
      .send({ turns: [turn(1, { confidence: 1e-100 }), turn(2, { confidence: 5e-324 }), turn(3)] })
      .expect(202);
    const stored = await eventually(
      async () =>
        (await t.http.get(path).set(producer.auth).expect(200)).body.data as {
          persistedAt: string | null;
          confidence: number;
        }[],
      (list) => list.length === 3 && list.every((x) => x.persistedAt !== null),
    );
    expect(stored.map((x) => x.confidence)).toEqual([0, 0, 0.9]);
  });

  it(`sent ${TOTAL} malformed requests in all`, () => {
    expect(TOTAL).toBeGreaterThanOrEqual(10_000);
    expect(sent).toBeGreaterThanOrEqual(TOTAL);
  });

  it('ignores query parameters on reads that take none (stats, verify), never failing on them', async () => {
    // These routes have no query DTO; like every such read in the API they ignore the
    // query. It must still never be a 5xx or write anything.
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/stats', '/verify', ''),
        malformedQuery(QUERY_KEYS.list),
        async (rest, { query }) => {
          const response = await send({
            label: 'ignored query',
            method: 'GET',
            path: `${conversation(rest)}?${query}`,
          });
          if (response.status >= 500)
            throw new Error(`${query} → ${response.status} ${response.text}`);
          if (response.status >= 400)
            expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        },
      ),
      { numRuns: 100, seed: SEED },
    );
    expect(await snapshot()).toEqual(before);
  });

  describe('the generators can pass (so the properties above can fail)', () => {
    it('accepts generated valid turns, single and batched, with 202 and persists each exactly', async () => {
      const valid = await createConversation(t.http, producer);
      const path = `/api/v1/conversations/${valid.id}/turns`;
      const expected = new Map<number, Record<string, unknown>>();
      let next = 1;
      const post = async (body: unknown, count: number) => {
        const response = await rawRequest(port, agent, {
          method: 'POST',
          path,
          headers: { ...json, authorization: producer.auth.Authorization },
          body: JSON.stringify(body),
        });
        if (response.status !== 202)
          throw new Error(
            `expected 202 for ${JSON.stringify(body).slice(0, 500)}: ${response.status} ${response.text}`,
          );
        expect(JSON.parse(response.text)).toEqual({ accepted: count, duplicates: 0 });
      };

      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.tuple(
              fc.array(validTurn(unicodeText, fc.constant(0)), { minLength: 1, maxLength: 25 }),
              fc.boolean(),
            ),
            { minLength: 5, maxLength: 5 },
          ),
          async (requests) => {
            await Promise.all(
              requests.map(([generated, single]) => {
                const turns = generated.map((g) => ({ ...g, messageNumber: next++ }));
                turns.forEach((x) => expected.set(x.messageNumber, x));
                return post(turns.length === 1 && single ? turns[0] : { turns }, turns.length);
              }),
            );
          },
        ),
        { numRuns: 20, seed: SEED, endOnFailure: true },
      );
      // The edges of every range, in one batch.
      const edges = [
        turn(MAX_MESSAGE_NUMBER, {
          speaker: 'ß'.repeat(100),
          rawText: '😀'.repeat(5000),
          cleanedText: 'e\u0301'.repeat(5000),
          spokenAt: '0100-01-01T00:00:00.000Z',
          confidence: 0,
          processingTimeMs: 86_400_000,
          slidingWindowSize: 100_000,
          contextTurnsUsed: 0,
          corrections: Array.from({ length: 100 }, () => ({
            original: '\t\n\r',
            corrected: 'RTL\u200f',
            confidence: 1,
            reason: 'r'.repeat(500),
            position: { start: 1_000_000, end: 0 },
          })),
          contextDetected: 'c'.repeat(200),
        }),
        turn(MAX_MESSAGE_NUMBER - 1, { spokenAt: '9999-12-31T23:59:59.999Z', confidence: 1 }),
      ];
      edges.forEach((x) => expected.set(x.messageNumber as number, x));
      await post({ turns: edges }, edges.length);

      const persisted = async () => {
        const [row] = await t.db.query<{ n: number }[]>(
          'SELECT count(*)::int AS n FROM turns WHERE conversation_id = $1',
          [valid.id],
        );
        return row!.n;
      };
      expect(await eventually(persisted, (n) => n === expected.size, 60_000)).toBe(expected.size);

      let after: string | null = '0';
      let seen = 0;
      while (after !== null) {
        const page = await t.http
          .get(path)
          .query({ after, limit: 100 })
          .set(producer.auth)
          .expect(200);
        const body = page.body as {
          data: Record<string, unknown>[];
          meta: { nextCursor: string | null };
        };
        for (const stored of body.data) {
          const sent = expected.get(stored.messageNumber as number)!;
          expect(stored.persistedAt).toEqual(expect.any(String));
          expect(stored).toMatchObject({
            speaker: sent.speaker,
            rawText: sent.rawText,
            cleanedText: sent.cleanedText ?? null,
            spokenAt: new Date(sent.spokenAt as string).toISOString(),
            cleaningApplied: sent.cleaningApplied ?? false,
            cleaningLevel: sent.cleaningLevel ?? 'none',
            corrections: sent.corrections ?? [],
            contextDetected: sent.contextDetected ?? null,
            businessDomain: sent.businessDomain ?? null,
            conversationFlow: sent.conversationFlow ?? null,
            aiModelUsed: sent.aiModelUsed ?? null,
            transcriptionErrorDetected: sent.transcriptionErrorDetected ?? false,
            processingTimeMs: sent.processingTimeMs ?? null,
            slidingWindowSize: sent.slidingWindowSize ?? null,
            contextTurnsUsed: sent.contextTurnsUsed ?? null,
          });
          // Stored as a 4-byte float: equal to about 7 significant digits.
          expect(
            Math.abs((stored.confidence as number) - (sent.confidence as number)),
          ).toBeLessThan(1e-6);
          seen += 1;
        }
        after = body.meta.nextCursor;
      }
      expect(seen).toBe(expected.size);
    });

    it('creates conversations from generated valid bodies and applies generated valid patches', async () => {
      const [row] = await t.db.query<{ n: number }[]>(
        'SELECT count(*)::int AS n FROM conversations WHERE created_by = $1',
        [producer.userId],
      );
      await fc.assert(
        fc.asyncProperty(validCreate, validUpdate, async (create, update) => {
          const created = await t.http
            .post('/api/v1/conversations')
            .set(producer.auth)
            .send(create);
          expect({ status: created.status, body: created.body as unknown }).toMatchObject({
            status: 201,
          });
          if (Object.keys(update).length === 0) return;
          const patched = await t.http
            .patch(`/api/v1/conversations/${(created.body as { id: string }).id}`)
            .set(producer.auth)
            .send(update);
          expect({ status: patched.status, body: patched.body as unknown }).toMatchObject({
            status: 200,
            body: update,
          });
        }),
        { numRuns: 25, seed: SEED, endOnFailure: true },
      );
      const [after] = await t.db.query<{ n: number }[]>(
        'SELECT count(*)::int AS n FROM conversations WHERE created_by = $1',
        [producer.userId],
      );
      expect(after!.n).toBe(row!.n + 25);
    });
  });
});
