/**
 * Starts a real Chatter server for the browser tests and returns its
 * teardown. The server serves the built UI from ui/dist, so the UI is built
 * first when dist is missing (`just test` builds it anyway).
 */
import { spawn, execSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const uiDir = path.resolve(here, '..');
const repo = path.resolve(uiDir, '..');

async function waitHealthy(url: string, deadlineMs: number, exited: () => string | null): Promise<void> {
  const until = Date.now() + deadlineMs;
  let last = '';
  while (Date.now() < until) {
    const why = exited();
    if (why) throw new Error(`chatter serve exited before it was healthy (${why}); see ui/test-results/server.log`);
    try {
      const r = await fetch(url);
      if (r.status === 200) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 100)); // polling a process we started, not test synchronisation
  }
  throw new Error(`chatter serve not healthy at ${url} within ${deadlineMs} ms: ${last}`);
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (process.env.UI_E2E_BASE_URL) return async () => {}; // an external server was given
  if (!existsSync(path.join(uiDir, 'dist', 'index.html'))) {
    execSync('npm run --silent build', { cwd: uiDir, stdio: 'inherit' });
  }
  const port = process.env.UI_E2E_PORT!;
  const dir = mkdtempSync(path.join(tmpdir(), 'chatter-e2e-'));
  mkdirSync(path.join(uiDir, 'test-results', 'screenshots'), { recursive: true });
  const log = createWriteStream(path.join(uiDir, 'test-results', 'server.log'));
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
      port,
      '--db',
      path.join(dir, 'e2e.db'),
      '--set',
      'auth.bcrypt_rounds=4',
      '--set',
      'auth.login_per_ip_per_minute=1000',
      '--set',
      'auth.register_per_ip_per_minute=1000',
    ],
    { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let exit: string | null = null;
  child.on('exit', (code, sig) => {
    exit = `code ${code} signal ${sig}`;
  });
  await waitHealthy(`http://127.0.0.1:${port}/healthz`, 30_000, () => exit);

  return async () => {
    if (exit === null) {
      const done = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
}
