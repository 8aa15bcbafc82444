import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';

export interface BodyLimits {
  /** A non-upload body must have arrived whole within this many ms. */
  bodyTimeoutMs: number;
  /** An upload must bring at least this many bytes per second... */
  uploadMinBytesPerSecond: number;
  /** ...averaged over every window of this many ms. */
  uploadWindowMs: number;
}

function hasBody(request: FastifyRequest): boolean {
  const { headers } = request.raw;
  const length = Number(headers['content-length'] ?? 0);
  return length > 0 || headers['transfer-encoding'] !== undefined;
}

function isUpload(request: FastifyRequest): boolean {
  return /^multipart\//i.test(request.headers['content-type'] ?? '');
}

/**
 * Cuts requests whose body trickles in (slowloris on the body). Node's own
 * `requestTimeout` is one deadline for every request, which an upload of a large file
 * on a modest line cannot meet; so it stays off and this watchdog decides instead:
 * a JSON body must be complete within `bodyTimeoutMs`; an upload has no deadline but
 * must keep a minimum transfer rate, measured on the socket's received bytes per
 * window. A window in which our own consumer (storage) held the body back — data
 * waiting in the request stream — does not count against the client.
 *
 * A cut request gets a 408 problem document with `Connection: close`, and its socket
 * is destroyed, which aborts whatever is still reading the body.
 */
export function registerBodyWatchdog(fastify: FastifyInstance, limits: BodyLimits): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    if (hasBody(request) && !request.raw.complete) watch(request, reply, limits);
    done();
  });
}

function watch(request: FastifyRequest, reply: FastifyReply, limits: BodyLimits): void {
  const raw = request.raw;
  const socket = raw.socket;
  const upload = isUpload(request);
  const startedAt = Date.now();
  const minBytesPerWindow = (limits.uploadMinBytesPerSecond * limits.uploadWindowMs) / 1000;
  let bytesAtWindowStart = socket.bytesRead;
  const period = upload ? limits.uploadWindowMs : Math.min(limits.bodyTimeoutMs, 1000);
  const timer = setInterval(() => {
    if (raw.complete || socket.destroyed || reply.raw.headersSent) return stop();
    if (upload) {
      const received = socket.bytesRead - bytesAtWindowStart;
      bytesAtWindowStart = socket.bytesRead;
      const heldBackByUs = raw.readableLength > 0;
      if (received < minBytesPerWindow && !heldBackByUs) {
        cut(
          request,
          reply,
          `The upload arrived slower than ${limits.uploadMinBytesPerSecond} bytes per second.`,
        );
        stop();
      }
    } else if (Date.now() - startedAt >= limits.bodyTimeoutMs) {
      cut(request, reply, `The request body did not arrive within ${limits.bodyTimeoutMs} ms.`);
      stop();
    }
  }, period);
  timer.unref();
  function stop(): void {
    clearInterval(timer);
  }
  raw.once('close', stop);
  reply.raw.once('close', stop);
}

function cut(request: FastifyRequest, reply: FastifyReply, detail: string): void {
  const body = JSON.stringify({
    type: 'https://verbatim.dev/problems/request-timeout',
    title: STATUS_CODES[408],
    status: 408,
    detail,
    instance: request.url.split('?')[0] ?? '/',
    requestId: String(request.id),
  });
  request.log.warn({ requestId: request.id, url: request.url }, 'request body too slow: cut');
  const socket = request.raw.socket;
  // Sent on the raw response: the route is still waiting for the body and fails once
  // the socket is gone; its own late answer then finds the response already sent.
  reply.raw.writeHead(408, {
    'content-type': 'application/problem+json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-request-id': String(request.id),
    connection: 'close',
  });
  reply.raw.end(body, () => socket.destroy());
}
