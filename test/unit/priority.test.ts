import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { asBackground, toBackground } from '../../stack/priority';

/** A process's nice value, from /proc (Linux). */
const niceOf = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[16]);

describe('background priority (FACTORY_BACKGROUND_NICE)', () => {
  const before = process.env.FACTORY_BACKGROUND_NICE;
  afterEach(() => (before === undefined ? delete process.env.FACTORY_BACKGROUND_NICE : (process.env.FACTORY_BACKGROUND_NICE = before)));

  const started = async (command: [string, string[]]) => {
    const child = spawn(...command, { stdio: 'ignore' });
    // nice(1) replaces itself with the command: same pid, once it has run.
    for (let i = 0; i < 50 && !fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').startsWith('sleep'); i++) await new Promise((r) => setTimeout(r, 20));
    return child;
  };

  test('a background process and every thread it starts run at the configured nice value, 10 by default', async () => {
    delete process.env.FACTORY_BACKGROUND_NICE;
    const child = await started(asBackground('sleep', ['5']));
    expect(niceOf(child.pid!)).toBe(10);
    child.kill();
    process.env.FACTORY_BACKGROUND_NICE = '0';
    expect(asBackground('sleep', ['5'])).toEqual(['sleep', ['5']]);
  });

  test('a running server is lowered in place, so what it forks later inherits it', async () => {
    process.env.FACTORY_BACKGROUND_NICE = '7';
    const child = await started(['sleep', ['5']]);
    toBackground(child.pid!);
    expect(niceOf(child.pid!)).toBe(7);
    child.kill();
  });

  test('a value outside 0-19 fails with the variable named', () => {
    process.env.FACTORY_BACKGROUND_NICE = '-5';
    expect(() => asBackground('sleep', ['1'])).toThrow(/^FACTORY_BACKGROUND_NICE: .*0/);
  });
});
