/** How a benchmark program reads its flags, prints its results and ends. */

/** The value after --name on the command line; fallback when the flag or its value is missing. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

/** A line of the benchmark's results; progress goes to stderr, so stdout holds only these. */
export const say = (s = '') => console.log(s);

/** How a result reads against its target. */
export const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');

/** Runs a benchmark process's main and exits with its outcome, so open handles (stdin readers, sockets, pools) cannot keep a finished run alive. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
