import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { isNumericType } from '../../data/csv-profile';
import { labelLeaks, profileCsv } from '../../data/profile';
import { draftSpec } from '../../specs/draft-spec';
import { parseModelSpec, TASKS, type Task } from '../../specs/model-spec';
import { CliError } from './context';

export interface InitOptions {
  label?: string;
  task?: string;
  time?: string;
  name?: string;
  out?: string;
  force?: boolean;
}

/** A model name from a file name: "Census Income (2024).csv" becomes census-income-2024. */
export function nameFromFile(file: string): string {
  const base = path.basename(file).replace(/\.[^.]+$/, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  const name = /^[a-z]/.test(base) ? base : `model-${base}`;
  return name.slice(0, 63).replace(/-+$/, '') || 'model';
}

/**
 * `factory init <file.csv>`: profiles the file with DuckDB, drafts a
 * commented spec (specs/draft-spec.ts), checks that it parses as a model spec,
 * and writes it. Without --label the last column is the label, as most
 * exported tables have it.
 */
export async function initSpec(file: string, o: InitOptions): Promise<{ out: string; text: string }> {
  if (!fs.existsSync(file)) throw new CliError(`${file} does not exist`);
  if (o.task !== undefined && !TASKS.includes(o.task as Task)) throw new CliError(`--task must be one of ${TASKS.join(', ')}; got "${o.task}"`);
  let profile;
  try {
    profile = await profileCsv(file);
  } catch (err) {
    throw new CliError(`${file}: DuckDB cannot read it as CSV with a header: ${(err as Error).message}`);
  }
  if (profile.columns.length < 2) throw new CliError(`${file}: one column only (${profile.columns[0]?.name}); a model needs a label and at least one feature`);
  const label = o.label ?? profile.columns[profile.columns.length - 1].name;
  const numeric = profile.columns.filter((c) => isNumericType(c.type)).map((c) => c.name);
  const labelColumn = profile.columns.find((c) => c.name === label);
  const leaks = labelColumn && isNumericType(labelColumn.type) ? await labelLeaks(file, label, numeric) : { sums: [], correlated: [] };
  const name = o.name ?? nameFromFile(file);
  let draft;
  try {
    draft = draftSpec(profile, leaks, { name, file: path.basename(file), label, task: o.task as Task | undefined, time: o.time });
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`);
  }
  // What init writes must register as it is: a draft that does not parse is this command's bug, said as such.
  parseModelSpec(parse(draft.yaml), `the drafted spec for ${file}`);
  const out = o.out ?? `${name}.yaml`;
  if (fs.existsSync(out) && !o.force) throw new CliError(`${out} exists; give --out another file, or --force to replace it`);
  fs.writeFileSync(out, draft.yaml);
  const text = [
    `wrote ${out}: model ${name}, ${profile.rows} rows of ${file}${o.label ? '' : ` (label: the last column, ${label}; give --label to choose another)`}`,
    ...draft.warnings.map((w) => `  warning: ${w}`),
    `next:  factory register ${out}`,
    `       factory ingest ${name} ${file}`,
  ].join('\n');
  return { out, text };
}
