import { lookup as dnsLookup, LookupAddress } from 'node:dns';
import http, { IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { ipLiteralOf, RefusedAddress, WebhookAddressPolicy } from './webhook-address-policy';

/** What one HTTP attempt came to. `error` is set for everything but a 2xx. */
export interface AttemptOutcome {
  startedAt: Date;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  /** At most 1 KiB of the response body (SPEC section 11). */
  responseBody: string | null;
}

const KEPT_BODY_BYTES = 1024;
/** A receiver streaming more than this is cut off: its socket is not worth keeping. */
const DRAINED_BODY_BYTES = 64 * 1024;

/**
 * POSTs one delivery. The address is checked after DNS resolution, in the socket's own
 * lookup, so the connection goes to exactly the address that was checked (no window for
 * DNS rebinding between a check and a second resolution); IP literals are checked before
 * connecting. Redirects are not followed (a 3xx is a failed attempt). Keep-alive agents
 * per protocol: a busy endpoint reuses its connections.
 */
export class WebhookSender {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly lookup: LookupFunction;

  constructor(
    private readonly policy: WebhookAddressPolicy,
    private readonly timeoutMs: number,
  ) {
    this.lookup = guardedLookup(policy);
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  send(url: string, headers: Record<string, string>, body: string): Promise<AttemptOutcome> {
    const startedAt = new Date();
    const started = performance.now();
    const done = (outcome: Omit<AttemptOutcome, 'startedAt' | 'durationMs'>): AttemptOutcome => ({
      startedAt,
      durationMs: Math.round(performance.now() - started),
      ...outcome,
    });
    let target: URL;
    try {
      target = new URL(url);
      const literal = ipLiteralOf(target.hostname);
      if (literal !== null) this.policy.check([literal]);
    } catch (error) {
      return Promise.resolve(
        done({ statusCode: null, error: messageOf(error), responseBody: null }),
      );
    }
    const client = target.protocol === 'https:' ? https : http;
    return new Promise<AttemptOutcome>((resolve) => {
      let settled = false;
      const finish = (outcome: Omit<AttemptOutcome, 'startedAt' | 'durationMs'>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(done(outcome));
      };
      const request = client.request(
        target,
        {
          method: 'POST',
          agent: target.protocol === 'https:' ? this.httpsAgent : this.httpAgent,
          lookup: this.lookup,
          headers: {
            ...headers,
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(body)),
            'user-agent': 'Verbatim-Webhooks/1',
          },
        },
        (response) => readResponse(response, finish),
      );
      const timer = setTimeout(() => {
        request.destroy(new Error(`timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      request.on('error', (error) =>
        finish({ statusCode: null, error: messageOf(error), responseBody: null }),
      );
      request.end(body);
    });
  }
}

function readResponse(
  response: IncomingMessage,
  finish: (outcome: Omit<AttemptOutcome, 'startedAt' | 'durationMs'>) => void,
): void {
  const statusCode = response.statusCode ?? 0;
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let total = 0;
  const outcome = () => {
    const text = Buffer.concat(kept).toString('utf8');
    const ok = statusCode >= 200 && statusCode < 300;
    return {
      statusCode,
      error: ok
        ? null
        : statusCode >= 300 && statusCode < 400
          ? `HTTP ${statusCode} (redirects are not followed)`
          : `HTTP ${statusCode}`,
      responseBody: text === '' ? null : text,
    };
  };
  response.on('data', (chunk: Buffer) => {
    total += chunk.length;
    if (keptBytes < KEPT_BODY_BYTES) {
      const part = chunk.subarray(0, KEPT_BODY_BYTES - keptBytes);
      kept.push(part);
      keptBytes += part.length;
    }
    if (total > DRAINED_BODY_BYTES) {
      finish(outcome());
      response.destroy();
    }
  });
  response.on('end', () => finish(outcome()));
  response.on('error', () => finish(outcome()));
  response.on('close', () => finish(outcome()));
}

/**
 * A socket lookup that resolves like the system would and refuses the connection when
 * any resolved address is not allowed: the socket then connects to an address the policy
 * has seen, never to a second, unchecked resolution.
 */
function guardedLookup(policy: WebhookAddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      try {
        policy.check(addresses.map((a) => a.address));
      } catch (refused) {
        return callback(refused as RefusedAddress, '', 0);
      }
      if (options.all) {
        (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      } else {
        callback(null, addresses[0]!.address, addresses[0]!.family);
      }
    });
  };
}

function messageOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const text =
    typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
  return text.slice(0, 500);
}
