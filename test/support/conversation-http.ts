import { Agent, IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestApp } from './app';

/**
 * Plain node:http helpers for the conversation specs: raw bodies with any content
 * type (the fuzz), and long-lived Server-Sent Events responses (the stream), which
 * supertest cannot express.
 */

export function portOf(t: TestApp): number {
  return (t.app.getHttpServer().address() as AddressInfo).port;
}

export interface RawRequest {
  method: string;
  /** Path and query, already encoded as it goes on the request line. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** A keep-alive pool, so thousands of requests do not each pay for a new connection. */
export function keepAliveAgent(maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets });
}

export function rawRequest(port: number, agent: Agent, req: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...(req.headers ?? {}) };
    if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body);
    const outgoing = request(
      { host: '127.0.0.1', port, method: req.method, path: req.path, headers, agent },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    if (req.body !== undefined) outgoing.write(req.body);
    outgoing.end();
  });
}

/** Percent-encodes every byte that is not unreserved (works for lone surrogates too). */
export function percentEncode(value: string | Buffer): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  let out = '';
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(char)
      ? char
      : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export interface SseEvent {
  event: string;
  id: string;
  data: string;
}

export interface EventStream {
  status: number;
  headers: IncomingHttpHeaders;
  /** Events received so far, in order. */
  events: SseEvent[];
  /** Resolves once `count` events have arrived in total; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<SseEvent[]>;
  /** Body text of a non-stream (error) answer, once it ended. */
  text(): Promise<string>;
  close(): void;
}

/**
 * Opens GET `path` as an event stream and parses `event:`/`id:`/`data:` blocks as they come.
 * Events named in `ignore` are dropped: by default `conversation.updated`, which arrives
 * on its own whenever a batch is persisted (SPEC section 10) and would upset counts of turns.
 */
export function openEventStream(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  { ignore = ['conversation.updated'] }: { ignore?: string[] } = {},
): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: '127.0.0.1',
        port,
        method: 'GET',
        path,
        headers: { accept: 'text/event-stream', ...headers },
        agent: false,
      },
      (response) => {
        const events: SseEvent[] = [];
        const waiters: { count: number; resolve: () => void }[] = [];
        let buffer = '';
        let ended = false;
        const endWaiters: (() => void)[] = [];
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          buffer += chunk;
          let boundary = buffer.indexOf('\n\n');
          while (boundary >= 0) {
            const block = buffer.slice(0, boundary);
            buffer = buffer.slice(boundary + 2);
            const event: SseEvent = { event: 'message', id: '', data: '' };
            let hasField = false;
            for (const line of block.split('\n')) {
              const colon = line.indexOf(':');
              if (colon <= 0) continue;
              const field = line.slice(0, colon);
              const value = line.slice(colon + 1).replace(/^ /, '');
              if (field === 'event') event.event = value;
              else if (field === 'id') event.id = value;
              else if (field === 'data')
                event.data = event.data ? `${event.data}\n${value}` : value;
              else continue;
              hasField = true;
            }
            if (hasField && !ignore.includes(event.event)) events.push(event);
            boundary = buffer.indexOf('\n\n');
          }
          for (const waiter of [...waiters]) {
            if (events.length >= waiter.count) {
              waiters.splice(waiters.indexOf(waiter), 1);
              waiter.resolve();
            }
          }
        });
        response.on('end', () => {
          ended = true;
          endWaiters.forEach((done) => done());
        });
        response.on('error', () => undefined);
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          events,
          waitFor(count, timeoutMs = 10_000) {
            if (events.length >= count) return Promise.resolve(events.slice());
            return new Promise((done, fail) => {
              const timer = setTimeout(
                () =>
                  fail(
                    new Error(
                      `expected ${count} events within ${timeoutMs} ms, got ${events.length}: ${JSON.stringify(events.map((e) => e.id))}`,
                    ),
                  ),
                timeoutMs,
              );
              waiters.push({
                count,
                resolve: () => {
                  clearTimeout(timer);
                  done(events.slice());
                },
              });
            });
          },
          text() {
            return new Promise((done) => {
              if (ended) done(buffer);
              else endWaiters.push(() => done(buffer));
            });
          },
          close() {
            outgoing.destroy();
          },
        });
      },
    );
    outgoing.on('error', (error) => {
      if (!outgoing.destroyed) reject(error);
    });
    outgoing.end();
  });
}
