import { LoggerService, LogLevel } from '@nestjs/common';
import pino, { Logger as Pino } from 'pino';
import pinoPretty from 'pino-pretty';
import { RequestContext } from '../http/request-context';

/**
 * Paths whose values never reach a log line. Bodies are not logged at all; these
 * cover headers and any object a developer passes to the logger by mistake.
 */
/** Field names whose values never reach a log line, at the top level or one level down. */
const SECRET_FIELDS = [
  'authorization',
  'password',
  'currentPassword',
  'newPassword',
  'passwordHash',
  'accessToken',
  'refreshToken',
  'token',
  'apiKey',
  'secret',
];

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  // `logger.log({ token })` as well as `logger.log({ user: { token } })`.
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
  // A nested `key` is a credential (`{ apiKey: { key } }`); a top-level `key` is a storage key.
  '*.key',
];

export interface AppLoggerOptions {
  level: string;
  /** A file to append JSON lines to; stdout when absent. */
  file?: string;
  /** Human-readable lines instead of JSON (see `logFormat`). Redaction still applies. */
  pretty?: boolean;
}

/**
 * JSON lines everywhere (files, pipes, containers, CI, production), except for a
 * developer's terminal: NODE_ENV=development with stdout a TTY and no LOG_FILE.
 */
export function logFormat(options: {
  nodeEnv: string;
  stdoutIsTTY: boolean;
  file?: string;
}): 'pretty' | 'json' {
  return options.nodeEnv === 'development' && options.stdoutIsTTY && !options.file
    ? 'pretty'
    : 'json';
}

const FLUSH_EVERY_MS = 250;

/** Nest's level names in pino's terms. */
const PINO_LEVEL: Record<LogLevel, pino.Level> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

/**
 * The one logger of a process: pino writing JSON lines, and Nest's LoggerService on top
 * so `new Logger(Context)` anywhere ends up here. Lines logged while a request (or a
 * job) is being handled carry its id through pino's mixin — no child logger per request.
 *
 * Writes are buffered (up to 4 KiB, at most FLUSH_EVERY_MS) off the request path;
 * `flush()` also runs at shutdown.
 * Calls: `logger.warn('text')`, `logger.warn({ err }, 'text')`, with Nest appending
 * the context name as the last argument.
 */
export class AppLogger implements LoggerService {
  readonly pino: Pino;
  /**
   * The per-request access line, on the same destination: it is built from known fields
   * only (id, method, path, status, time), so it skips the redaction every other line
   * gets — a measurable share of a small request's CPU.
   */
  readonly access: Pino;
  private readonly destination: pino.DestinationStream & {
    flush(callback?: (error?: Error) => void): void;
  };
  private readonly flushTimer: NodeJS.Timeout;

  constructor(options: AppLoggerOptions) {
    const destination = (this.destination = pino.destination({
      dest: options.file ?? 1,
      sync: false,
      minLength: 4096,
      mkdir: Boolean(options.file),
    }));
    // The prettifier formats each line pino has already redacted, then hands it to the
    // same buffered destination, so flushing and shutdown work alike in both formats.
    const output = options.pretty
      ? pinoPretty({
          destination,
          colorize: !options.file,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname,service',
        })
      : destination;
    this.pino = pino(
      {
        level: options.level,
        base: { pid: process.pid, service: 'verbatim' },
        redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
        mixin: () => {
          const requestId = RequestContext.current()?.requestId;
          return requestId ? { reqId: requestId } : {};
        },
      },
      output,
    );
    this.access = pino(
      { level: options.level, base: { pid: process.pid, service: 'verbatim' } },
      output,
    );
    // A quiet process (a worker) would otherwise hold its last lines until 4 KiB pile up.
    this.flushTimer = setInterval(() => this.flush(), FLUSH_EVERY_MS).unref();
  }

  log(message: unknown, ...params: unknown[]): void {
    this.write('log', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('verbose', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  flush(): void {
    this.pino.flush();
  }

  /** Writes out every buffered line (resolves once they reached the file or stdout). */
  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2_000);
      this.destination.flush(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private write(level: LogLevel, message: unknown, params: unknown[]): void {
    const method = PINO_LEVEL[level];
    if (!this.pino.isLevelEnabled(method)) return;
    // Nest passes the context (the class name given to `new Logger()`) last.
    const rest = [...params];
    const context = typeof rest[rest.length - 1] === 'string' ? rest.pop() : undefined;
    const fields: Record<string, unknown> = context ? { context } : {};
    if (message instanceof Error) {
      this.pino[method]({ ...fields, err: message }, message.message);
    } else if (message !== null && typeof message === 'object') {
      this.pino[method]({ ...fields, ...message }, ...(rest as [string?]));
    } else if (level === 'error' && typeof rest[0] === 'string' && rest[0].includes('\n    at ')) {
      // Nest's own exception handler: error(message, stack, context).
      this.pino.error(
        { ...fields, err: { message: String(message), stack: rest[0] } },
        String(message),
      );
    } else {
      this.pino[method](fields, String(message));
    }
  }
}
