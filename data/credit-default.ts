import { sharedText, type FactoryEnv } from '../config/env';
import { readCsv, writeCsv } from './csv';

/**
 * The codes of the shipped credit-default file's categories in their documented
 * meanings (its README; Yeh & Lien 2009), as a bank's own extract holds them.
 * Codes the source leaves undocumented (EDUCATION 0, 5, 6; MARRIAGE 0) keep
 * their code in the text: the shipped spec lists only documented values, so
 * these reach the model's "other" bucket (unknown: other) and are counted there.
 */
export const DOCUMENTED_MEANINGS: Record<string, Record<string, string>> = {
  SEX: { 1: 'male', 2: 'female' },
  EDUCATION: { 1: 'graduate school', 2: 'university', 3: 'high school', 4: 'others' },
  MARRIAGE: { 1: 'married', 2: 'single', 3: 'others' },
};

/** The shipped file as CSV text with its categories as strings: what the demo, the tests and the benchmarks ingest. */
export function creditDefaultText(env: FactoryEnv): string {
  const [header, ...rows] = readCsv(sharedText(env, 'credit-default/UCI_Credit_Card.csv')).map((r) => r.cells);
  const recoded = Object.entries(DOCUMENTED_MEANINGS).map(([column, meanings]) => {
    const at = header.indexOf(column);
    if (at < 0) throw new Error(`credit-default/UCI_Credit_Card.csv: no ${column} column in the header`);
    return { at, meanings };
  });
  for (const cells of rows) for (const { at, meanings } of recoded) cells[at] = meanings[cells[at]] ?? `undocumented ${cells[at]}`;
  return writeCsv([header, ...rows]);
}
