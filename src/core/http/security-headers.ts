import helmet, { HelmetOptions } from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The headers helmet would set, worked out once. They do not depend on the request
 * (no CSP nonces here), and running helmet per request re-parsed the CSP directives
 * every time — a measurable share of a small request's CPU in `bench:api`.
 */
export function securityHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]): void {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string): void {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)(
    {} as IncomingMessage,
    response as unknown as ServerResponse,
    (error?: unknown) => {
      // helmet only fails on invalid options, which start-up must not survive.
      if (error) throw error instanceof Error ? error : new Error('invalid helmet options');
    },
  );
  return headers;
}
