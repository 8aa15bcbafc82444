import { loginAsAdmin, Session, startApp, TestApp, userSession } from '../support/app';
import { EventStream, openEventStream, portOf, SseEvent } from '../support/conversation-http';
import { createConversation, turn } from '../support/turns';

/**
 * Named events on GET /conversations/:id/stream (SPEC section 10): `turn`, `turn.revised`
 * (the turn as revised), `conversation.updated` (counters, at most one per second while
 * turns arrive) and `conversation.ended` (`{ sealHash }`); `Last-Event-ID` resumes after
 * any of them. Workers run in this app (its own Redis prefix), so persistence is real.
 */
describe('Conversation stream: named events (SPEC section 10)', () => {
  let t: TestApp;
  let port: number;
  let worker: Session;
  const open: EventStream[] = [];

  beforeAll(async () => {
    t = await startApp({
      REDIS_PREFIX: `${process.env.REDIS_PREFIX ?? 'vbt'}-events-${Date.now().toString(36)}`,
    });
    port = portOf(t);
    const admin = await loginAsAdmin(t.http);
    worker = await userSession(t.http, admin, 'case_worker');
  });
  afterEach(() => open.splice(0).forEach((stream) => stream.close()));
  afterAll(() => t.close());

  async function subscribe(id: string, lastEventId?: string): Promise<EventStream> {
    const stream = await openEventStream(
      port,
      `/api/v1/conversations/${id}/stream`,
      {
        authorization: worker.auth.Authorization,
        ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
      },
      { ignore: [] },
    );
    open.push(stream);
    return stream;
  }

  const post = (id: string, body: object) =>
    t.http.post(`/api/v1/conversations/${id}/turns`).set(worker.auth).send(body).expect(202);

  async function until(stream: EventStream, check: (events: SseEvent[]) => boolean) {
    const deadline = Date.now() + 10_000;
    while (!check(stream.events)) {
      if (Date.now() > deadline)
        throw new Error(`events so far: ${stream.events.map((e) => e.event).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return stream.events.slice();
  }

  it('streams turn, turn.revised, conversation.updated and conversation.ended, each resumable', async () => {
    const conversation = await createConversation(t.http, worker);
    const stream = await subscribe(conversation.id);
    await post(conversation.id, turn(1));
    await t.http
      .patch(`/api/v1/conversations/${conversation.id}/turns/1`)
      .set(worker.auth)
      .send({ cleanedText: 'Turn one.', cleaningApplied: true })
      .expect(200);
    await until(stream, (events) => events.some((e) => e.event === 'conversation.updated'));
    const ended = await t.http
      .post(`/api/v1/conversations/${conversation.id}/end`)
      .set(worker.auth)
      .expect(200);
    const events = await until(stream, (all) => all.some((e) => e.event === 'conversation.ended'));

    const first = (name: string) => events.find((e) => e.event === name)!;
    expect(JSON.parse(first('turn').data)).toMatchObject({ messageNumber: 1, revision: 1 });
    expect(JSON.parse(first('turn.revised').data)).toMatchObject({
      messageNumber: 1,
      revision: 2,
      cleanedText: 'Turn one.',
    });
    const counters = events
      .filter((e) => e.event === 'conversation.updated')
      .map((e) => JSON.parse(e.data) as { turnsCount: number });
    expect(counters[counters.length - 1]).toMatchObject({
      turnsCount: 1,
      averageConfidence: expect.any(Number) as number,
      lastActivityAt: expect.any(String) as string,
    });
    expect(JSON.parse(first('conversation.ended').data)).toEqual({
      sealHash: (ended.body as { sealHash: string }).sealHash,
    });
    expect(events.slice(0, 2).map((e) => e.event)).toEqual(['turn', 'turn.revised']);

    // Resuming after each event gives exactly the ones after it, whatever their name.
    for (let i = 0; i < events.length - 1; i++) {
      const resumed = await subscribe(conversation.id, events[i]!.id);
      const rest = await resumed.waitFor(events.length - 1 - i);
      expect(rest.map((e) => [e.id, e.event])).toEqual(
        events.slice(i + 1).map((e) => [e.id, e.event]),
      );
      resumed.close();
    }
  });

  it('sends conversation.updated at most once a second while turns keep arriving', async () => {
    const conversation = await createConversation(t.http, worker);
    const stream = await subscribe(conversation.id);
    const started = Date.now();
    for (let n = 1; Date.now() - started < 3500; n++) {
      await post(conversation.id, turn(n));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const updates = stream.events.filter((e) => e.event === 'conversation.updated');
    // Stream ids start with the ms they were added at.
    const times = updates.map((e) => Number(e.id.split('-')[0]));
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.length).toBeLessThanOrEqual(5);
    for (let i = 1; i < times.length; i++)
      expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(1000);
    const turns = stream.events.filter((e) => e.event === 'turn').length;
    expect(turns).toBeGreaterThan(updates.length * 3);
  });
});
