/**
 * Malformed request bodies for the fuzz tests, from a seeded generator so a
 * failure names a body that can be made again: wrong types, huge numbers, deep
 * nesting, wrong content types, truncated and oversized bodies, bytes that are
 * not UTF-8. Each comes with its content type (undefined: none sent).
 */
export type Malformed = { kind: string; contentType: string | undefined; body: Buffer };

/** One body in this many is a bulky one (about a megabyte); the rest are small. */
const BULKY_EVERY = 25;

export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values no feature of any type takes (a string could be a category, null a missing value). */
const WRONG_VALUES: unknown[] = [true, false, [], [1, 2], ['a'], {}, { nested: { deeper: [] } }, { value: 1 }];
/** Numbers JSON can spell that no feature can hold: JSON.parse turns them into ±Infinity. */
const HUGE_NUMBERS = ['1e400', '-1e400', '1e309', '9'.repeat(400), `-${'9'.repeat(330)}.5`];
const CONTENT_TYPES = ['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'image/png', 'text/html; charset=utf-8'];

/** `row` is a valid instance; `features` its features by name (a row may carry other columns, such as its id). */
export function malformedPredictBodies(count: number, seed: number, row: Record<string, unknown>, features: string[]): Malformed[] {
  const r = random(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const json = (kind: string, text: string, contentType: string | undefined = 'application/json'): Malformed => ({ kind, contentType, body: Buffer.from(text) });
  const valid = JSON.stringify({ instances: [row, row] });
  const makers: (() => Malformed)[] = [
    () => json('wrong type for a feature', JSON.stringify({ instances: [{ ...row, [pick(features)]: pick(WRONG_VALUES) }] })),
    () => {
      const gone = pick(features);
      return json('feature missing', JSON.stringify({ instances: [Object.fromEntries(Object.entries(row).filter(([k]) => k !== gone))] }));
    },
    () => json('huge number', valid.replace(/"LIMIT_BAL":[^,}]+/, `"LIMIT_BAL":${pick(HUGE_NUMBERS)}`)),
    () => json('instances not an array of objects', JSON.stringify({ instances: pick([...WRONG_VALUES.filter((v) => !Array.isArray(v) || v.length > 0), null, 'rows', 7]) })),
    () => json('no instances', JSON.stringify(pick([{}, { instance: [row] }, { instances: [] }, [row], row, null, 42, 'instances']))),
    () => {
      const depth = 1000 + Math.floor(r() * 100_000);
      return json('deep nesting', `{"instances":[${'['.repeat(depth)}${']'.repeat(depth)}]}`);
    },
    () => {
      const depth = 1000 + Math.floor(r() * 50_000);
      return json('deep nesting in a feature', `{"instances":[{"LIMIT_BAL":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}]}`);
    },
    () => json('truncated', valid.slice(0, Math.floor(r() * (valid.length - 1)))),
    () => json('wrong content type', valid, pick(CONTENT_TYPES)),
    () => json('truncated, no content type', valid.slice(0, Math.floor(r() * (valid.length - 1))), undefined),
    () => ({ kind: 'not UTF-8', contentType: 'application/json', body: Buffer.concat([Buffer.from('{"instances":[{"SEX":"'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('"}]}')]) }),
    () => ({ kind: 'random bytes', contentType: pick(['application/json', undefined]), body: Buffer.from(Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256))) }),
    () => json('prototype keys', JSON.stringify({ instances: [{ ...row }] }).replace('{"', '{"__proto__":{"polluted":1},"constructor":{"prototype":1},"')),
    // The last of a duplicated key wins, as in JSON.parse: here it is the wrong one.
    () => json('duplicate keys', valid.replace(/}(,|\])/g, ',"LIMIT_BAL":"lots"}$1')),
    () => json('empty body', ''),
  ];
  // Bodies of a megabyte or so: each is refused by a limit the same way, so a few hundred of them say as much as thousands would.
  const bulky: (() => Malformed)[] = [
    () => json('too many instances', JSON.stringify({ instances: Array.from({ length: 1001 + Math.floor(r() * 50) }, () => row) })),
    () => json('oversized', `{"instances":[{"pad":"${'x'.repeat((1 << 20) + Math.floor(r() * 1000))}"}]}`),
  ];
  return Array.from({ length: count }, (_, i) => (i % BULKY_EVERY === 0 ? bulky[(i / BULKY_EVERY) % bulky.length] : makers[i % makers.length])());
}

/**
 * Malformed batches: most are refused while they stream in (limits, content
 * types); one in 100 reaches validation (bytes that are not UTF-8, formula
 * cells, a truncated row, a wrong type) and is quarantined. `csv` is a valid
 * batch of fewer rows than the intake's row limit.
 */
export function malformedBatchBodies(count: number, seed: number, csv: string, limits: { maxBytes: number; maxRows: number }): Malformed[] {
  const r = random(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const lines = csv.trimEnd().split('\n');
  const [header, first] = lines;
  const last = lines[lines.length - 1];
  const body = (kind: string, text: string | Buffer, contentType: string | undefined = 'text/csv'): Malformed => ({ kind, contentType, body: Buffer.isBuffer(text) ? text : Buffer.from(text) });
  const refusedOnTheWay: (() => Malformed)[] = [
    () => body('wrong content type', csv, pick([...CONTENT_TYPES, 'application/json'])),
    () => body('empty body', ''),
    () => body('more rows than the limit', `${header}\n${`${first}\n`.repeat(limits.maxRows + 1 + Math.floor(r() * 20))}`),
  ];
  const bulky: (() => Malformed)[] = [
    () => body('no content type, over the byte limit', Buffer.alloc(limits.maxBytes + 1 + Math.floor(r() * 1000), 0x39), undefined),
    // Lines of 200 kB: under the line limit and the row limit, over the byte limit.
    () => body('larger than the byte limit', `${header}\n${`${'9'.repeat(200_000)}\n`.repeat(Math.ceil(limits.maxBytes / 200_000) + 1)}`),
    () => body('a line longer than any row', `${header}\n${'9'.repeat(300_000 + Math.floor(r() * 1000))}`),
  ];
  const quarantined: (() => Malformed)[] = [
    () => body('not UTF-8', Buffer.concat([Buffer.from(`${lines.slice(0, -1).join('\n')}\n`), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from(last.slice(4))])),
    () => body('formula cells', `${lines.slice(0, -1).join('\n')}\n=cmd()${last.slice(last.indexOf(','))}`),
    // Cut within the first half of the last row: too few cells, whatever the cut.
    () => body('a truncated row', csv.slice(0, csv.length - last.length + 1 + Math.floor(r() * (last.length / 2 - 1)))),
    () => body('a wrong type', `${lines.slice(0, -1).join('\n')}\n${last.replace(/,(\d+),/, ',lots,')}`),
  ];
  return Array.from({ length: count }, (_, i) => pick(i % 100 === 0 ? quarantined : i % BULKY_EVERY === 1 ? bulky : refusedOnTheWay)());
}
