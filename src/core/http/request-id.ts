import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Echo the client's X-Request-Id when it is a plain token (no log injection),
 * otherwise mint one. Fastify uses it as `request.id`; the request context and logs carry it.
 */
export function requestIdFor(raw: IncomingMessage): string {
  const header = raw.headers['x-request-id'];
  const given = Array.isArray(header) ? header[0] : header;
  const id = given && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
  (raw as IncomingMessage & { id?: string }).id = id;
  return id;
}

/**
 * The caller's address. Behind a trusted proxy it is the last X-Forwarded-For entry:
 * the one that proxy appended. Earlier entries are whatever the client claimed.
 */
export function clientIpOf(raw: IncomingMessage, trustProxy: boolean): string | undefined {
  if (trustProxy) {
    const forwarded = raw.headers['x-forwarded-for'];
    const list = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded)?.split(',');
    const last = list?.[list.length - 1]?.trim();
    if (last) return last.slice(0, 64);
  }
  return raw.socket?.remoteAddress;
}
