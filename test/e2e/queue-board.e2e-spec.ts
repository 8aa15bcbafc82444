import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { Browser } from 'puppeteer-core';
import { QueueName } from '../../src/core/queue/queue-names';
import { QUEUE_BOARD_COOKIE } from '../../src/jobs/queue-board';
import { createUser, CreatedUser, loginAsAdmin, Session, startApp, TestApp } from '../support/app';
import { baseUrlOf } from '../support/audio';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The auth entries about a user, each with the reason and whether the caller's address is in it. */
async function auditActions(t: TestApp, userId: string): Promise<string[]> {
  const rows = await t.db.query<{ action: string; reason: string | null; ip: string | null }[]>(
    `SELECT action, details->>'reason' AS reason, actor_ip AS ip FROM audit_logs
      WHERE resource_id = $1 AND action LIKE 'auth.%' ORDER BY id`,
    [userId],
  );
  return rows.map(
    (row) => `${row.action}${row.reason ? `:${row.reason}` : ''}${row.ip ? '' : ' (no ip)'}`,
  );
}

describe('Bull Board sign-in from a browser (issue 12)', () => {
  let t: TestApp;
  let admin: Session;
  let operator: CreatedUser;
  let supervisor: CreatedUser;
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is missing at ${CHROMIUM}: install it with ` +
          '`apt-get update && apt-get install -y --no-install-recommends chromium` ' +
          '(.ci/run does), or set CHROMIUM_PATH.',
      );
    }
    t = await startApp();
    admin = await loginAsAdmin(t.http);
    operator = await createUser(t.http, admin, 'admin');
    supervisor = await createUser(t.http, admin, 'supervisor');
    dir = await mkdtemp(join(tmpdir(), 'verbatim-queue-board-'));
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${join(dir, 'profile')}`,
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('Bull Board in a browser: a browser opening /admin/queues signs in with the admin login and password, sees the queues, and the cookie is HttpOnly and SameSite=Strict', async () => {
    const page = await browser.newPage();
    const base = baseUrlOf(t);

    // Unauthenticated, the browser lands on a sign-in form (not a JSON 401).
    await page.goto(`${base}/admin/queues`, { waitUntil: 'load' });
    expect(new URL(page.url()).pathname).toBe('/admin/queues/sign-in');
    await page.waitForSelector('form input[name="password"]');

    // A wrong password: refused, counted and audited like POST /auth/login.
    await page.type('#login', operator.username);
    await page.type('#password', 'not-the-password');
    const refused = await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      page.click('button[type="submit"]'),
    ]);
    expect(refused[0]?.status()).toBe(401);
    expect(await page.$eval('[role="alert"]', (e) => e.textContent)).toMatch(/Wrong username/);

    await page.type('#login', operator.username);
    await page.type('#password', operator.password);
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'networkidle0' }),
      page.click('button[type="submit"]'),
    ]);
    expect(new URL(page.url()).pathname).toBe('/admin/queues');
    const names = JSON.stringify(Object.values(QueueName));
    await page.waitForFunction(`${names}.every((name) => document.body.innerText.includes(name))`, {
      timeout: 20000,
    });
    const screenshot = join(dir, 'queues.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    // QUEUE_BOARD_SCREENSHOT=/some/file.png keeps a copy to look at.
    if (process.env.QUEUE_BOARD_SCREENSHOT)
      await copyFile(screenshot, process.env.QUEUE_BOARD_SCREENSHOT);
    expect((await stat(screenshot)).size).toBeGreaterThan(5000);

    const cookies = await browser.cookies();
    const cookie = cookies.find((c) => c.name === QUEUE_BOARD_COOKIE);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/admin/queues' });
    // Scoped to the board: the API does not take it.
    const api = await page.evaluate(
      async (url: string) => (await fetch(url)).status,
      `${base}/api/v1/auth/me`,
    );
    expect(api).toBe(401);

    expect(await auditActions(t, operator.id)).toEqual([
      'auth.login_failed:wrong-password',
      'auth.login',
    ]);
    await page.close();
  });

  it('Bull Board in a browser: the sign-in refuses a role without queues:admin (no cookie) and the board API still answers problems to programs', async () => {
    const form = (login: string, password: string) =>
      t.http.post('/admin/queues/sign-in').type('form').send({ login, password });
    const denied = await form(supervisor.username, supervisor.password);
    expect(denied.status).toBe(403);
    expect(denied.headers['set-cookie']).toBeUndefined();
    expect(denied.text).toMatch(/does not grant queues:admin/);

    const empty = await form('', '');
    expect(empty.status).toBe(400);

    const signedIn = await form(operator.username, operator.password).expect(303);
    const setCookie = String(signedIn.headers['set-cookie']);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).not.toMatch(/Secure/); // plain http here; https adds Secure
    const cookie = setCookie.split(';')[0]!;
    const queues = await t.http.get('/admin/queues/api/queues').set('Cookie', cookie).expect(200);
    expect(JSON.stringify(queues.body)).toContain(QueueName.Retention);

    const forged = await t.http
      .get('/admin/queues/api/queues')
      .set('Cookie', `${QUEUE_BOARD_COOKIE}=not-a-token`);
    expect(forged.status).toBe(401);
    expect(forged.headers['content-type']).toMatch(/problem\+json/);
  });
});
