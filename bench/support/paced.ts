/**
 * Open-loop, constant-rate HTTP load: request i is due at start + i / rate and is sent
 * then (checked every millisecond), whatever the answers before it are doing. Its latency
 * is measured from that scheduled time, so a slow server (or a busy load generator) shows
 * up in the percentiles instead of silently lowering the offered rate (no coordinated
 * omission). autocannon's overallRate lets each connection send its share of a second as
 * fast as it is answered and then wait for the next second, which makes bursts of
 * `connections` concurrent requests at the start of every second.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface PacedRequest {
  method: string;
  path: string;
  body?: string;
}

export interface Answer {
  status: number;
  body: string;
}

/** Keep-alive HTTP/1.1 to one server with a bearer token; one agent per load stream. */
export class HttpClient {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(
    base: string,
    private readonly token: string,
    maxSockets = 64,
  ) {
    const url = new URL(base);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  send(request: PacedRequest, timeoutMs = 30_000): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = {
        authorization: `Bearer ${this.token}`,
      };
      if (request.body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(request.body);
      }
      const req = http.request(
        {
          agent: this.agent,
          host: this.host,
          port: this.port,
          method: request.method,
          path: request.path,
          headers,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
      req.end(request.body);
    });
  }

  /** One request timed from this call to the last byte of the answer. */
  async timed(request: PacedRequest): Promise<Answer & { ms: number }> {
    const started = performance.now();
    const answer = await this.send(request);
    return { ...answer, ms: performance.now() - started };
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface PacedResult {
  offeredRate: number;
  /** Requests sent / seconds from the first due time until the last one was sent. */
  sentRate: number;
  /** Answers with the expected status / seconds from the start until the last answer. */
  achievedRate: number;
  sent: number;
  ok: number;
  statuses: Record<string, number>;
  seconds: number;
  /** ms from each request's scheduled time to the end of its answer (every answer). */
  latencies: number[];
}

const MAX_IN_FLIGHT = 512;

/**
 * Sends `rate × seconds` requests at `rate` per second; `next(i)` builds request i and
 * `onAnswer(i, answer)` sees its answer (or `undefined` when the request failed).
 */
export async function paced(
  client: HttpClient,
  rate: number,
  seconds: number,
  expected: number,
  next: (i: number) => PacedRequest,
  onAnswer?: (i: number, answer: Answer | undefined) => void,
): Promise<PacedResult> {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let sent = 0;
  let inFlight = 0;
  let ok = 0;
  const started = performance.now();
  let lastSent = started;
  let lastDone = started;
  await new Promise<void>((resolve) => {
    const finishIfDone = (): void => {
      if (sent === total && inFlight === 0) resolve();
    };
    const tick = (): void => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - started) / interval) + 1);
      while (sent < due && inFlight < MAX_IN_FLIGHT) {
        const i = sent++;
        const scheduled = started + i * interval;
        inFlight++;
        lastSent = performance.now();
        client
          .send(next(i))
          .then(
            (answer) => {
              const end = performance.now();
              latencies.push(end - scheduled);
              statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
              if (answer.status === expected) ok++;
              onAnswer?.(i, answer);
            },
            () => {
              statuses.error = (statuses.error ?? 0) + 1;
              onAnswer?.(i, undefined);
            },
          )
          .catch(() => undefined)
          .finally(() => {
            inFlight--;
            lastDone = performance.now();
            finishIfDone();
          });
      }
      if (sent < total) setTimeout(tick, 1);
      else finishIfDone();
    };
    tick();
  });
  return {
    offeredRate: rate,
    sentRate: sent / Math.max(1e-3, (lastSent - started) / 1000 + interval / 1000),
    achievedRate: ok / Math.max(1e-3, (lastDone - started) / 1000),
    sent,
    ok,
    statuses,
    seconds: (lastDone - started) / 1000,
    latencies,
  };
}
