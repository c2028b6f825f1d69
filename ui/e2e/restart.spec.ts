/**
 * The server is killed with SIGKILL and restarted on the same database while
 * a user is mid-conversation: the client reconnects, resumes from its
 * cursor, and the message typed during the outage is delivered exactly once.
 * This spec runs its own server (not the shared one from global setup).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, createWriteStream } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { bodies, messageRow, PASSWORD, send, shot, uniq } from './helpers';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function startServer(port: number, db: string, log: string): Promise<ChildProcess> {
  const python = process.env.UI_E2E_PYTHON ?? path.join(repo, '.venv', 'bin', 'python');
  const child = spawn(
    python,
    [
      '-m',
      'chatter',
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--db',
      db,
      '--set',
      'auth.bcrypt_rounds=4',
      '--set',
      'auth.login_per_ip_per_minute=1000',
      '--set',
      'auth.register_per_ip_per_minute=1000',
    ],
    { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out = createWriteStream(log, { flags: 'a' });
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  await expect
    .poll(
      async () => {
        if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}; see ${log}`);
        try {
          return (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
        } catch {
          return 0;
        }
      },
      { timeout: 30_000 },
    )
    .toBe(200);
  return child;
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

test('server SIGKILLed and restarted: the client resumes and delivers the outage message exactly once', async ({
  browser,
}) => {
  test.setTimeout(90_000);
  const dir = mkdtempSync(path.join(tmpdir(), 'chatter-e2e-restart-'));
  const db = path.join(dir, 'restart.db');
  const log = path.resolve(here, '..', 'test-results', 'server-restart.log');
  const port = await freePort();
  let server = await startServer(port, db, log);
  const context = await browser.newContext({
    baseURL: `http://127.0.0.1:${port}`,
    viewport: { width: 1280, height: 800 },
  });
  try {
    const page = await context.newPage();
    const username = uniq('cy');
    await page.goto('/');
    await page.getByRole('tab', { name: 'Sign up' }).click();
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Display name').fill('Cy Restart');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('button', { name: '+ New group' }).click();
    const dlg = page.getByRole('dialog', { name: 'New group' });
    await dlg.getByLabel('Group name').fill('Notes to self');
    await dlg.getByRole('button', { name: 'Create group' }).click();
    await expect(page.getByTestId('room-title')).toHaveText('Notes to self');
    await send(page, 'Before the crash');
    await expect(messageRow(page, 'Before the crash')).toHaveAttribute('data-state', 'sent');

    await kill9(server);
    const banner = page.getByTestId('connection-banner');
    await expect(banner).toHaveAttribute('data-state', /backoff|connecting|handshaking/);
    await expect(banner).toContainText(/Reconnecting|Connection lost/);
    await send(page, 'During the outage');
    await expect(messageRow(page, 'During the outage')).toHaveAttribute('data-state', 'pending');
    await shot(page, '13-server-down');

    server = await startServer(port, db, log);
    // Do not wait out the backoff: retry as a user would.
    await expect(async () => {
      // The button vanishes whenever an automatic attempt starts: never wait on it.
      const retry = page.getByRole('button', { name: 'Retry now' });
      if (await retry.isVisible()) await retry.click({ timeout: 500 }).catch(() => {});
      await expect(banner).toHaveAttribute('data-state', 'open', { timeout: 1000 });
    }).toPass({ timeout: 30_000 });
    await expect(messageRow(page, 'During the outage')).toHaveAttribute('data-state', 'sent');
    await expect(bodies(page, 'During the outage')).toHaveCount(1);

    // And the server's own history agrees: each message exactly once.
    await page.reload();
    await expect(bodies(page, 'Before the crash')).toHaveCount(1);
    await expect(bodies(page, 'During the outage')).toHaveCount(1);
  } finally {
    await context.close();
    await kill9(server);
    rmSync(dir, { recursive: true, force: true });
  }
});
