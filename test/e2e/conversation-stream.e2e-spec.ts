import type Redis from 'ioredis';
import { AppConfig } from '../../src/core/config/app-config';
import { REDIS } from '../../src/core/redis/redis.module';
import { SharedStreamReader } from '../../src/core/sse/shared-stream-reader';
import { loginAsAdmin, Session, startApp, TestApp, userSession } from '../support/app';
import { EventStream, openEventStream, portOf, SseEvent } from '../support/conversation-http';
import { createConversation, eventually, turn } from '../support/turns';

/**
 * SPEC section 6: GET /conversations/:id/stream sends new turns as Server-Sent Events
 * (`event: turn`, an `id:` and the turn as JSON data) in arrival order, and a client that
 * comes back with `Last-Event-ID` receives exactly what it missed. Driven by a real HTTP
 * client against the listening port: supertest cannot hold a response open.
 */
describe('Conversation turn stream (SSE)', () => {
  let t: TestApp;
  let port: number;
  let worker: Session;
  let outsider: Session;
  const open: EventStream[] = [];

  beforeAll(async () => {
    t = await startApp();
    port = portOf(t);
    const admin = await loginAsAdmin(t.http);
    worker = await userSession(t.http, admin, 'case_worker');
    outsider = await userSession(t.http, admin, 'case_worker');
  });
  afterEach(() => {
    open.splice(0).forEach((stream) => stream.close());
  });
  afterAll(() => t.close());

  const streamPath = (id: string) => `/api/v1/conversations/${id}/stream`;

  async function subscribe(
    id: string,
    session: Session | undefined,
    headers: Record<string, string> = {},
  ): Promise<EventStream> {
    const stream = await openEventStream(port, streamPath(id), {
      ...(session ? { authorization: session.auth.Authorization } : {}),
      ...headers,
    });
    open.push(stream);
    return stream;
  }

  async function post(id: string, body: object): Promise<void> {
    await t.http.post(`/api/v1/conversations/${id}/turns`).set(worker.auth).send(body).expect(202);
  }

  const numbers = (events: SseEvent[]) =>
    events.map((e) => (JSON.parse(e.data) as { messageNumber: number }).messageNumber);

  /** Waits a little longer to prove that nothing beyond `count` events arrives. */
  async function exactly(stream: EventStream, count: number): Promise<SseEvent[]> {
    await stream.waitFor(count);
    await new Promise((resolve) => setTimeout(resolve, 400));
    return stream.events.slice();
  }

  it('sends each accepted turn as `event: turn` with an id and JSON data, in arrival order', async () => {
    const conversation = await createConversation(t.http, worker);
    const stream = await subscribe(conversation.id, worker);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);

    // Arrival order, not messageNumber order: 3 arrives first.
    await post(conversation.id, turn(3, { rawText: 'third, sent first' }));
    await post(conversation.id, turn(1));
    await post(conversation.id, { turns: [turn(2), turn(4)] });
    // A duplicate is not a new turn and must not be streamed again.
    await post(conversation.id, turn(1));

    const events = await exactly(stream, 4);
    expect(events.map((e) => e.event)).toEqual(['turn', 'turn', 'turn', 'turn']);
    expect(numbers(events)).toEqual([3, 1, 2, 4]);
    for (const event of events) expect(event.id).toMatch(/^\d+-\d+$/);
    // Ids increase strictly, so they can serve as a resume point.
    const ids = events.map((e) => e.id.split('-').map(Number) as [number, number]);
    for (let i = 1; i < ids.length; i++) {
      const [ms, seq] = ids[i]!;
      const [prevMs, prevSeq] = ids[i - 1]!;
      expect(ms > prevMs || (ms === prevMs && seq > prevSeq)).toBe(true);
    }
    const first = JSON.parse(events[0]!.data) as Record<string, unknown>;
    expect(first).toMatchObject({
      conversationId: conversation.id,
      messageNumber: 3,
      rawText: 'third, sent first',
      confidenceLevel: 'HIGH',
    });
    expect(first.receivedAt).toEqual(expect.any(String));
  });

  it('starts a new subscriber from now: turns accepted before it subscribed are not replayed', async () => {
    const conversation = await createConversation(t.http, worker);
    await post(conversation.id, { turns: [turn(1), turn(2)] });
    const stream = await subscribe(conversation.id, worker);
    await post(conversation.id, turn(3));
    expect(numbers(await exactly(stream, 1))).toEqual([3]);
  });

  it('resumes with Last-Event-ID: exactly the missed turns, then live ones', async () => {
    const conversation = await createConversation(t.http, worker);
    const first = await subscribe(conversation.id, worker);
    await post(conversation.id, { turns: [turn(1), turn(2)] });
    await post(conversation.id, turn(3));
    const seen = await first.waitFor(3);
    expect(numbers(seen)).toEqual([1, 2, 3]);
    first.close();

    // While disconnected.
    await post(conversation.id, turn(4));
    await post(conversation.id, { turns: [turn(6), turn(5)] });

    const resumed = await subscribe(conversation.id, worker, { 'last-event-id': seen[2]!.id });
    expect(resumed.status).toBe(200);
    const missed = await exactly(resumed, 3);
    expect(numbers(missed)).toEqual([4, 6, 5]);
    expect(missed.map((e) => e.id)).not.toContain(seen[2]!.id);

    await post(conversation.id, turn(7));
    const all = await exactly(resumed, 4);
    expect(numbers(all)).toEqual([4, 6, 5, 7]);

    // Resuming from the middle replays from there.
    const middle = await subscribe(conversation.id, worker, { 'last-event-id': seen[0]!.id });
    expect(numbers(await exactly(middle, 6))).toEqual([2, 3, 4, 6, 5, 7]);
  });

  it('treats a malformed Last-Event-ID as a fresh subscription, not an error', async () => {
    const conversation = await createConversation(t.http, worker);
    await post(conversation.id, turn(1));
    const stream = await subscribe(conversation.id, worker, { 'last-event-id': 'not-an-id' });
    expect(stream.status).toBe(200);
    await post(conversation.id, turn(2));
    expect(numbers(await exactly(stream, 1))).toEqual([2]);
  });

  it('keeps subscribers of different conversations apart', async () => {
    const a = await createConversation(t.http, worker);
    const b = await createConversation(t.http, worker);
    const streamA = await subscribe(a.id, worker);
    const streamB = await subscribe(b.id, worker);
    await post(a.id, turn(1));
    await post(b.id, { turns: [turn(1), turn(2)] });
    await post(a.id, turn(2));
    const eventsA = await exactly(streamA, 2);
    const eventsB = await exactly(streamB, 2);
    expect(
      eventsA.map((e) => (JSON.parse(e.data) as { conversationId: string }).conversationId),
    ).toEqual([a.id, a.id]);
    expect(
      eventsB.map((e) => (JSON.parse(e.data) as { conversationId: string }).conversationId),
    ).toEqual([b.id, b.id]);
  });

  it('answers 404 problem+json for a conversation the caller cannot see, and for one that does not exist', async () => {
    const conversation = await createConversation(t.http, worker);
    for (const id of [conversation.id, '00000000-0000-4000-8000-000000000000']) {
      const stream = await subscribe(id, outsider);
      expect(stream.status).toBe(404);
      expect(stream.headers['content-type']).toMatch(/^application\/problem\+json/);
      const body = JSON.parse(await stream.text()) as { status: number };
      expect(body.status).toBe(404);
    }
  });

  it('answers 401 without a token (or with a bad one) and never opens the stream', async () => {
    const conversation = await createConversation(t.http, worker);
    const variants: Record<string, string>[] = [{}, { authorization: 'Bearer not-a-token' }];
    for (const headers of variants) {
      const stream = await subscribe(conversation.id, undefined, headers);
      expect(stream.status).toBe(401);
      expect(stream.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(await stream.text())).toMatchObject({ status: 401 });
    }
  });

  it('F6: every stream of the process shares one Redis connection, kept after subscribers leave', async () => {
    const reader = t.app.get(SharedStreamReader);
    const redis = t.app.get<Redis>(REDIS);
    const named = async (): Promise<number> =>
      ((await redis.client('LIST')) as string)
        .split('\n')
        .filter((line) => line.includes(` name=${reader.connectionName} `)).length;
    const duplicate = jest.spyOn(redis, 'duplicate');
    try {
      const a = await createConversation(t.http, worker);
      const b = await createConversation(t.http, worker);
      const streams = await Promise.all(
        [a, a, a, b, b, b].map((conversation) => subscribe(conversation.id, worker)),
      );
      await post(a.id, turn(1));
      await post(b.id, { turns: [turn(1), turn(2)] });
      const received = await Promise.all(streams.map((s, i) => s.waitFor(i < 3 ? 1 : 2)));
      expect(received.map((events) => events.length)).toEqual([1, 1, 1, 2, 2, 2]);
      // Six subscribers, at most one new connection (none when an earlier test opened it).
      expect(duplicate.mock.calls.length).toBeLessThanOrEqual(1);
      expect(await named()).toBe(1);
      streams.forEach((s) => s.close());
      // Leaving subscribers neither open nor leak connections; new ones reuse it.
      const again = await subscribe(a.id, worker);
      await post(a.id, turn(2));
      expect(numbers(await again.waitFor(1))).toEqual([2]);
      expect(await named()).toBe(1);
    } finally {
      duplicate.mockRestore();
    }
  });

  it('F6: a user holds at most SSE_MAX_PER_USER streams: one more gets 429 problem+json with Retry-After', async () => {
    const admin = await loginAsAdmin(t.http);
    const viewer = await userSession(t.http, admin, 'case_worker');
    const conversation = await createConversation(t.http, viewer);
    const max = t.app.get(AppConfig).get('SSE_MAX_PER_USER');
    const streams = await Promise.all(
      Array.from({ length: max }, () => subscribe(conversation.id, viewer)),
    );
    expect(streams.map((s) => s.status)).toEqual(Array(max).fill(200));

    const refused = await subscribe(conversation.id, viewer);
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(await refused.text())).toMatchObject({ status: 429 });
    // The cap is per user: someone else still gets a stream of the same conversation.
    const own = await createConversation(t.http, worker);
    expect((await subscribe(own.id, worker)).status).toBe(200);

    // Closing one frees its slot.
    streams[0]!.close();
    const next = await eventually(
      async () => {
        const stream = await subscribe(conversation.id, viewer);
        if (stream.status !== 200) stream.close();
        return stream.status;
      },
      (status) => status === 200,
      5000,
    );
    expect(next).toBe(200);
  });
});
