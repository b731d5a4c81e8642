import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../stack/process';

describe('the embedded PostgreSQL', () => {
  it('says why when the server exits before it is ready (here: a data directory that is not one), with its own log lines, instead of failing with nothing', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'embedded-pg-'));
    const dataDir = path.join(root, 'pg');
    fs.mkdirSync(dataDir, { mode: 0o700 });
    // Looks initialised, so no initdb runs; the server finds nothing else there and stops at once.
    fs.writeFileSync(path.join(dataDir, 'PG_VERSION'), '15\n');
    fs.chmodSync(root, 0o755);
    // As root the package runs the server as the "postgres" user, which must own its data directory.
    if (os.userInfo().uid === 0) fs.chownSync(dataDir, ...(['-u', '-g'].map((o) => Number(execFileSync('id', [o, 'postgres'], { encoding: 'utf8' }))) as [number, number]));
    try {
      const port = await freePort();
      const url = `postgres://postgres:secret@127.0.0.1:${port}/factory`;
      // In a process of its own: the package is an ES module, which Jest's sandbox cannot import.
      const start = `require(${JSON.stringify(path.resolve(__dirname, '../../stack/postgres'))}).startPostgres(undefined, ${JSON.stringify({ url, dataDir, port, password: 'secret' })}, () => undefined).then(() => console.log('started'), (err) => console.log(err instanceof Error ? err.message : 'not an Error: ' + String(err)))`;
      const out = spawnSync(process.execPath, ['-e', start], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'silent' } }).stdout;
      expect(out).toMatch(/^embedded PostgreSQL \(port \d+, data in .+\) exited before it was ready, twice; its last log lines:\n[^]*could not access the server configuration file/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }, 120_000);
});
