import { isNumericType, MAX_VALUES, type ColumnProfile, type CsvProfile, type LabelLeaks } from '../data/csv-profile';
import { TASKS, type Task } from './model-spec';

/**
 * The model spec `factory init` writes for a CSV file, from its profile
 * (data/profile.ts): a YAML text whose comments say what was inferred from
 * what, so a person can read it, change it, and register it as it is.
 */
export interface DraftOptions {
  name: string;
  file: string;
  label: string;
  task?: Task;
  time?: string;
}

export interface Draft {
  yaml: string;
  /** What a person should look at before trusting the spec: leaks left out, rows that will be refused, guesses. */
  warnings: string[];
}

const INTEGER = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)$/;
/** Names that usually hold a row key. */
const ID_NAME = /(^|[_\s.-])(id|key|instant|index|uuid)$|^id([_\s.-]|$)/i;
/** Names that usually hold a personal attribute a bias check should cover. */
const PERSONAL = /sex|gender|race|ethnic|religion|marital|marriage|nationality|native|disab/i;
const AGE = /(^|[_\s.-])age($|[_\s.-])/i;

/** A YAML scalar: JSON's quoting is valid YAML and leaves no doubt about what a value is. */
const q = (v: string | number) => (typeof v === 'number' ? String(v) : JSON.stringify(v));
const pct = (n: number, of: number) => `${((100 * n) / Math.max(1, of)).toFixed(1)}%`;

function column(p: CsvProfile, name: string, what: string): ColumnProfile {
  const c = p.columns.find((x) => x.name === name);
  if (!c) throw new Error(`${what} "${name}" is not a column of the file; its columns are ${p.columns.map((x) => x.name).join(', ')}`);
  return c;
}

function inferTask(label: ColumnProfile): Task {
  if (label.distinct === 2) return 'binary-classification';
  if (isNumericType(label.type)) return INTEGER.test(label.type) && label.distinct <= 10 ? 'multiclass-classification' : 'regression';
  if (label.distinct <= MAX_VALUES) return 'multiclass-classification';
  throw new Error(`label "${label.name}" holds ${label.distinct} distinct text values: too many for classes and not numbers; give --task, or another --label`);
}

const asValue = (c: ColumnProfile, v: string) => (isNumericType(c.type) && Number.isFinite(Number(v)) ? Number(v) : v);

export function draftSpec(p: CsvProfile, leaks: LabelLeaks, o: DraftOptions): Draft {
  const warnings: string[] = [];
  const label = column(p, o.label, 'label');
  const task = o.task ?? inferTask(label);
  if (!TASKS.includes(task)) throw new Error(`task must be one of ${TASKS.join(', ')}`);
  if (label.missing > 0) warnings.push(`${label.missing} rows (${pct(label.missing, p.rows)}) have no ${label.name}: a batch with unlabelled rows is quarantined whole, so leave those rows out of what you ingest`);

  // The label, as the task reads it.
  const labelLines: string[] = [];
  if (task === 'binary-classification') {
    if (label.distinct !== 2) throw new Error(`a binary label needs two values; "${label.name}" has ${label.distinct}`);
    const [common, rare] = label.values;
    const zeroOne = isNumericType(label.type) && [common.value, rare.value].sort().join() === '0,1';
    if (zeroOne) labelLines.push(`label: ${q(label.name)}`);
    else {
      labelLines.push(`# positive: the rarer of its two values (${rare.rows} of ${p.rows} rows; the other is ${q(common.value)}). Swap them if ${q(common.value)} is the event to predict.`);
      labelLines.push(`label: { column: ${q(label.name)}, positive: ${q(asValue(label, rare.value))} }`);
    }
  } else if (task === 'multiclass-classification') {
    if (label.distinct > MAX_VALUES) throw new Error(`"${label.name}" has ${label.distinct} distinct values: too many for classes`);
    const classes = label.values.map((v) => asValue(label, v.value)).sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b))));
    const rare = label.values.filter((v) => v.rows < 10);
    labelLines.push(`# Classes in a fixed order (their order is the model's output order); add new ones at the end.${rare.length ? ` Rare here: ${rare.map((r) => `${r.value} (${r.rows} rows)`).join(', ')}.` : ''}`);
    labelLines.push(`label: { column: ${q(label.name)}, classes: [${classes.map(q).join(', ')}] }`);
  } else {
    if (!isNumericType(label.type)) throw new Error(`a regression label must be numeric; "${label.name}" holds text (DuckDB reads it as ${label.type})`);
    const counts = INTEGER.test(label.type) && Number(label.min) >= 0;
    labelLines.push(counts ? `# Whole numbers from ${label.min} to ${label.max}: counts, so a Poisson objective (its predictions are never negative).` : `# Numbers from ${label.min} to ${label.max}: squared error.`);
    labelLines.push(`label: { column: ${q(label.name)}, objective: ${counts ? 'poisson' : 'squared-error'} }`);
  }

  // The time column: one whose every value is a date or an ISO timestamp.
  let time: ColumnProfile | undefined;
  if (o.time) {
    time = column(p, o.time, 'time column');
    if (!time.isoTimes) throw new Error(`time column "${o.time}" is not all dates (2012-10-01) or ISO timestamps: convert it first`);
  } else time = p.columns.find((c) => c.name !== label.name && c.isoTimes && c.missing === 0 && c.distinct > 1);
  const skipped: string[] = [];

  // The id column: unique and never missing, named like a key or numbering the rows.
  const unique = p.columns.filter((c) => c !== label && c !== time && c.missing === 0 && c.distinct === p.rows && p.rows > 1 && (INTEGER.test(c.type) || c.type === 'VARCHAR'));
  const id = unique.find((c) => ID_NAME.test(c.name)) ?? unique.find((c) => INTEGER.test(c.type) && Number(c.max) - Number(c.min) + 1 === p.rows);

  const leaked = new Set([...leaks.sums.flat(), ...leaks.correlated.map((l) => l.column)]);
  for (const [a, b] of leaks.sums) warnings.push(`${a} + ${b} = ${label.name} on every row: both leak the label and are left out`);
  for (const l of leaks.correlated) if (!leaks.sums.flat().includes(l.column)) warnings.push(`${l.column} is correlated with ${label.name} at r = ${l.r.toFixed(4)}: it leaks the label and is left out`);

  const features: string[] = [];
  let anyMissing = false;
  const personal: string[] = [];
  for (const c of p.columns) {
    if (c === label || c === time || c === id) continue;
    if (leaked.has(c.name)) {
      skipped.push(`${c.name}: leaks the label`);
      continue;
    }
    if (c.distinct <= 1) {
      skipped.push(`${c.name}: ${c.distinct === 0 ? 'always empty' : `always ${q(c.values[0].value)}`}, nothing to learn from`);
      continue;
    }
    const missing = c.missing > 0 ? `, ${pct(c.missing, p.rows)} missing` : '';
    let line: string;
    if (isNumericType(c.type)) {
      const integer = INTEGER.test(c.type);
      line = `  - { name: ${q(c.name)}, type: ${integer ? 'integer' : 'number'} }  # ${c.min} to ${c.max}${missing}${c.distinct <= 12 ? `; ${c.distinct} values` : ''}`;
    } else if (c.type === 'VARCHAR' || c.type === 'BOOLEAN') {
      if (c.distinct > MAX_VALUES) {
        skipped.push(`${c.name}: ${c.distinct} distinct text values, free text or a key rather than a category`);
        continue;
      }
      const shown = c.values.map((v) => v.value);
      line = `  - { name: ${q(c.name)}, type: category, values: [${shown.map(q).join(', ')}], unknown: other }  # commonest first${missing}`;
      if (PERSONAL.test(c.name)) personal.push(c.name);
    } else {
      skipped.push(`${c.name}: a ${c.type} column${c.isoTimes ? ' (a second time column)' : ''}; features are numbers and categories`);
      continue;
    }
    if (c.missing > 0) anyMissing = true;
    features.push(line);
  }
  if (features.length === 0) throw new Error(`no column of the file can be a feature (${skipped.join('; ')})`);
  const ages = p.columns.filter((c) => AGE.test(c.name) && isNumericType(c.type) && features.some((f) => f.includes(q(c.name))));

  const lines = [
    `# Drafted by factory init from ${o.file} (${p.rows} rows, ${p.columns.length} columns, delimiter ${q(p.delimiter)}).`,
    '# Every choice below says what it was inferred from; change any of them, then: factory register <this file>.',
    `name: ${q(o.name)}`,
    `description: ${q(`${label.name} from ${o.file}`)}`,
    `# ${o.task ? 'given with --task' : `inferred from the label's values (${label.distinct} distinct, DuckDB type ${label.type})`}`,
    `task: ${task}`,
    id
      ? `# ${id.name}: unique on every row${ID_NAME.test(id.name) ? ' and named like a key' : ', numbering the rows'}.\nidColumn: ${q(id.name)}`
      : '# No column is a row key: each row is known by a hash of its content, and identical rows are kept as separate observations.',
    ...(time ? [`# ${time.name}: every value a date or ISO timestamp (${time.min} to ${time.max}): splits follow time, the most recent rows are the test set.`, `timeColumn: ${q(time.name)}`] : []),
    ...labelLines,
    'features:',
    ...features,
    ...(skipped.length ? ['# Left out:', ...skipped.map((s) => `#   ${s}`)] : []),
    ...(personal.length
      ? ['# Bias checks: per-group error and rates for columns that look personal (check they are what they seem).', `protectedAttributes: [${personal.map(q).join(', ')}]`]
      : ['protectedAttributes: []']),
    ...ages.map((a) => `# To check bias by age as well: - { feature: ${q(a.name)}, bands: [25, 35, 45, 60] }`),
    ...(anyMissing ? ['# Some features have empty cells: they are missing values the trees learn to route.', 'validation: { missingValues: allow }'] : []),
    '# Gradient-boosted trees with early stopping; kind: logistic-regression is the simpler baseline for binary models.',
    'trainer: { kind: gbdt, trees: 300, maxDepth: 6, learningRate: 0.1, earlyStoppingRounds: 30 }',
    '# No floors yet: add them once the first evaluation shows what this data allows (factory status <model>).',
    'policy: {}',
    'approval:',
    '  approvers: [group:model-approvers]',
    `# A first ingest of this file (${p.rows} rows) starts a training; later batches retrain every ${retrainRows(p.rows)} new rows.`,
    `triggers: { rows: ${retrainRows(p.rows)} }`,
    '',
  ];
  if (!id && p.rows > 0) warnings.push('no id column: rows are known by their content (a corrected row is a new row, not a replacement)');
  return { yaml: lines.join('\n'), warnings };
}

/** A fifth of the file, so ingesting the file itself trains the first model, and a few more such batches retrain it. */
function retrainRows(rows: number): number {
  return Math.max(50, Math.min(rows, Math.round(rows / 5)));
}
