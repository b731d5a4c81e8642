import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { stopProcess } from '../../../stack/process';

const children = new Set<ChildProcess>();
// Backstop: nothing a benchmark started outlives it, however it ends.
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/** Puts child under stopChildren and the exit backstop. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Stops every tracked child still running, one after another. */
export async function stopChildren(): Promise<void> {
  for (const c of [...children]) await stopProcess(c, 10_000).catch(() => undefined);
}

/** A node script of the benchmark's own (raw ORT, the load generator) as a child that speaks in lines on stdout. */
export function lineChild(script: string, args: string[], nodeFlags: string[] = []) {
  const child = track(spawn(process.execPath, [...nodeFlags, script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const lines: string[] = [];
  const waiting: { test: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  readline.createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const w of waiting.filter((w) => w.test(l))) (waiting.splice(waiting.indexOf(w), 1), w.resolve(l));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    /** The first line (already seen or to come) that passes test; fails if the child exits first. */
    line(test: (l: string) => boolean, what: string): Promise<string> {
      const seen = lines.find(test);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiting.push({ test, resolve });
        void exited.then((code) => reject(new Error(`${what} exited (${code})`)));
      });
    },
  };
}
