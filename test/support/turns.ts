import TestAgent from 'supertest/lib/agent';
import { Session } from './app';

let nameCounter = 0;

export function uniqueName(prefix = 'conversation'): string {
  nameCounter += 1;
  return `${prefix}-${Date.now().toString(36)}-${process.pid}-${nameCounter}`;
}

export function turn(
  messageNumber: number,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    messageNumber,
    speaker: `Speaker_${messageNumber % 2}`,
    rawText: `turn number ${messageNumber}`,
    spokenAt: new Date(Date.now() - 60_000 + messageNumber).toISOString(),
    confidence: 0.9,
    ...overrides,
  };
}

export async function createConversation(
  http: TestAgent,
  session: Session,
  body: Record<string, unknown> = {},
): Promise<{ id: string; name: string }> {
  const response = await http
    .post('/api/v1/conversations')
    .set(session.auth)
    .send({ name: uniqueName(), ...body })
    .expect(201);
  return response.body as { id: string; name: string };
}

/** Polls until `check` passes or the timeout expires (persistence is asynchronous). */
export async function eventually<T>(
  probe: () => Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!check(value)) {
    if (Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await probe();
  }
  return value;
}
