import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { ApplicationFailure } from '@temporalio/activity';
import type { z } from 'zod';
import { writeCsv } from '../data/csv';
import { splitRows } from '../ml/split';
import type { BatchRow } from '../specs/data-batch';
import { durationMs } from '../specs/duration';
import type { commandTrainerSchema, ModelSpec } from '../specs/model-spec';
import { labelColumn } from '../specs/label';

type CommandParams = z.infer<typeof commandTrainerSchema>;

export interface CommandRun {
  onnx: Buffer;
  metrics: Record<string, number>;
}

const ROOT = path.resolve(__dirname, '../..');
const PROGRESS = /^PROGRESS\s+(\d+)\s+(\d+)\s*(.*)$/;
const METRICS = /^METRICS\s+(\{.*\})\s*$/;

/** What a trainer inherits from the worker: enough to run a program and find a GPU, nothing that grants access. */
const PASSED_THROUGH = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'CUDA_VISIBLE_DEVICES'];

/** The spec's variables, secrets resolved from the worker's FACTORY_SECRET_<NAME>; a missing one fails at once, by name. */
function resolveEnv(env: CommandParams['env']): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([name, value]) => {
      if (typeof value === 'string') return [name, value];
      const resolved = process.env[`FACTORY_SECRET_${value.secret}`];
      if (resolved === undefined) throw ApplicationFailure.nonRetryable(`trainer.env.${name}: secret ${value.secret} is not set on this training worker (FACTORY_SECRET_${value.secret})`, 'MissingSecret');
      return [name, resolved];
    }),
  );
}

function writeSplit(file: string, spec: ModelSpec, rows: BatchRow[]): void {
  // A missing value is an empty cell, as in the factory's own CSV batches.
  fs.writeFileSync(file, writeCsv([[...spec.features.map((f) => f.name), labelColumn(spec)], ...rows.map((r) => [...r.features, r.label])]));
}

/**
 * Runs an external training program on the snapshot's train/validation split,
 * streaming its output to the log and its PROGRESS lines to the heartbeat.
 */
export async function runCommandTrainer(
  spec: ModelSpec,
  params: CommandParams,
  rows: BatchRow[],
  dir: string,
  report: (p: { step: number; total: number; message: string }) => void,
  log: (line: string) => void,
  signal: AbortSignal,
  device?: string,
): Promise<CommandRun> {
  const parts = splitRows(rows, spec.split);
  const trainCsv = path.join(dir, 'train.csv');
  const validationCsv = path.join(dir, 'validation.csv');
  const output = path.join(dir, 'model.onnx');
  const schema = path.join(dir, 'schema.json');
  // What the model must take and answer (ml/trainer.ts): the features with their types and category values, the task and the label.
  // The label as the spec gives it: its classes are the output's order, its objective what a regression should minimise.
  fs.writeFileSync(schema, JSON.stringify({ task: spec.task, label: spec.label, labelColumn: labelColumn(spec), features: spec.features }, null, 1));
  writeSplit(trainCsv, spec, parts.train);
  writeSplit(validationCsv, spec, parts.validation);
  const [program, ...args] = params.command;
  const child = spawn(program, args, {
    cwd: params.cwd ? path.resolve(ROOT, params.cwd) : ROOT,
    // Files and paths only: the worker's own credentials (S3, database) never reach a trainer.
    env: {
      ...Object.fromEntries(PASSED_THROUGH.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]]]))),
      ...resolveEnv(params.env),
      // The one GPU this run was given; the trainer sees it as device 0.
      ...(device !== undefined && { CUDA_VISIBLE_DEVICES: device }),
      FACTORY_TRAIN_CSV: trainCsv,
      FACTORY_VALIDATION_CSV: validationCsv,
      FACTORY_OUTPUT_ONNX: output,
      FACTORY_FEATURES: spec.features.map((f) => f.name).join(','),
      FACTORY_SCHEMA_JSON: schema,
      FACTORY_LABEL: labelColumn(spec),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const metrics: Record<string, number> = {};
  const tail: string[] = [];
  const remember = (line: string) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
  };
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    remember(line);
    log(line);
    const p = PROGRESS.exec(line);
    if (p) report({ step: Number(p[1]), total: Number(p[2]), message: p[3] || `step ${p[1]}/${p[2]}` });
    const m = METRICS.exec(line);
    if (m) Object.assign(metrics, JSON.parse(m[1]));
  });
  readline.createInterface({ input: child.stderr }).on('line', (line) => {
    remember(line);
    log(line);
  });
  const kill = () => child.kill('SIGKILL');
  signal.addEventListener('abort', kill);
  const timer = setTimeout(kill, durationMs(params.timeout));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', (err) => reject(ApplicationFailure.nonRetryable(`cannot start ${program}: ${err.message}`, 'TrainingError')));
    child.on('exit', (c) => resolve(c));
  }).finally(() => {
    clearTimeout(timer);
    signal.removeEventListener('abort', kill);
  });
  if (signal.aborted) throw signal.reason;
  if (code !== 0) {
    throw ApplicationFailure.nonRetryable(`${params.command.join(' ')} exited with code ${code}; its last output:\n${tail.join('\n')}`, 'TrainingError');
  }
  if (!fs.existsSync(output)) throw ApplicationFailure.nonRetryable(`${params.command.join(' ')} finished without writing ${output}`, 'TrainingError');
  return { onnx: fs.readFileSync(output), metrics };
}
