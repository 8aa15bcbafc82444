import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppLogger, logFormat } from './app-logger';

describe('log format', () => {
  it.each([
    ['development', true, undefined, 'pretty'],
    ['development', false, undefined, 'json'],
    ['development', true, '/var/log/verbatim.log', 'json'],
    ['production', true, undefined, 'json'],
    ['production', false, undefined, 'json'],
    ['test', true, undefined, 'json'],
  ] as const)(
    'readable dev logs: NODE_ENV=%s, stdout a TTY: %s, LOG_FILE=%s → %s',
    (nodeEnv, stdoutIsTTY, file, expected) => {
      expect(logFormat({ nodeEnv, stdoutIsTTY, file })).toBe(expected);
    },
  );

  describe('lines written', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'verbatim-log-format-'));
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    async function linesOf(pretty: boolean): Promise<string> {
      const file = join(dir, `${pretty ? 'pretty' : 'json'}.log`);
      const logger = new AppLogger({ level: 'info', file, pretty });
      logger.log({ user: { password: 'hunter2-secret' } }, 'signed in', 'AuthService');
      logger.warn('disk almost full', 'Storage');
      await logger.close();
      return readFile(file, 'utf8');
    }

    it('readable dev logs: pretty mode writes readable lines (level, message, context), still redacted', async () => {
      const text = await linesOf(true);
      const [first, second] = text
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith(' '));
      expect(first).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: signed in$/);
      expect(second).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: disk almost full$/);
      expect(text).toContain('context: "AuthService"');
      expect(text).toContain('[redacted]');
      expect(text).not.toContain('hunter2-secret');
      expect(text).not.toContain('\u001b['); // a file gets no colour codes
    });

    it('S9: secrets are redacted at the top level of a logged object, not only one level down', async () => {
      const file = join(dir, 'top-level.log');
      const logger = new AppLogger({ level: 'info', file });
      logger.log({ token: 'tok-top-secret', password: 'pw-top-secret', apiKey: 'vk_top' }, 'x');
      logger.log({ nested: { refreshToken: 'rt-nested-secret' } }, 'y');
      await logger.close();
      const text = await readFile(file, 'utf8');
      for (const secret of ['tok-top-secret', 'pw-top-secret', 'vk_top', 'rt-nested-secret']) {
        expect(text).not.toContain(secret);
      }
      expect(text.match(/\[redacted\]/g)).toHaveLength(4);
    });

    it('readable dev logs: JSON mode writes one JSON object per line', async () => {
      const lines = (await linesOf(false)).trim().split('\n');
      expect(lines).toHaveLength(2);
      const first = JSON.parse(lines[0]!) as Record<string, unknown>;
      expect(first).toMatchObject({ level: 30, msg: 'signed in', context: 'AuthService' });
      expect(lines[0]).not.toContain('hunter2-secret');
    });
  });
});
