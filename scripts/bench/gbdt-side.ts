/**
 * Our side of the GBDT benchmark (scripts/bench/gbdt.ts), in a process of its
 * own so that its peak RSS is the trainer's: it loads the trainer's modules
 * and nothing else of the benchmark's (no ONNX Runtime, no schema library),
 * as the XGBoost side loads numpy and xgboost.
 *
 *   node dist/scripts/bench/gbdt-side.js TRAIN.csv TEST.csv OUT '{"params":…,"task":…,"label":…,"categorical":[…]}'
 */
import fs from 'node:fs';
import { toDataset, type Dataset } from '../../ml/dataset';
import { gbdtToOnnx } from '../../ml/gbdt/onnx';
import { objectiveOf } from '../../ml/gbdt/objectives';
import { fitGbdt, predictGbdt, type GbdtParams } from '../../ml/gbdt/train';
import type { FeatureSpec, ModelSpec } from '../../specs/model-spec';

/** What the benchmark hands this side: parameters already checked by the schema, and the task. */
export type SideJob = Pick<ModelSpec, 'task' | 'label'> & { params: GbdtParams; categorical: boolean[] };

/** The columns as the two trainers see them: numbers, in the spec's order. */
export const anonymous = (n: number): FeatureSpec[] => Array.from({ length: n }, (_, i) => ({ name: `f${i}`, type: 'number' }));

/**
 * The numbers straight into a dataset, from the file's bytes: a cell of
 * digits is read as it goes, any other through Number(), and no line is kept,
 * as np.loadtxt reads them on the other side: peak memory is the trainer's,
 * not a CSV reader's.
 */
function read(file: string): Dataset {
  const bytes = fs.readFileSync(file);
  let rows = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a && i > 0 && bytes[i - 1] !== 0x0a) rows++;
  if (bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a) rows++;
  let cells = 1;
  for (let i = 0; i < bytes.length && bytes[i] !== 0x0a; i++) if (bytes[i] === 0x2c) cells++;
  const features = cells - 1;
  const x = new Float64Array(rows * features);
  const y = new Float64Array(rows);
  let row = 0;
  let cell = 0;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    const b = i < bytes.length ? bytes[i] : 0x0a;
    if (b !== 0x2c && b !== 0x0a) continue;
    if (!(b === 0x0a && cell === 0 && i === start)) {
      const v = cellValue(bytes, start, i);
      if (cell === 0) y[row] = v;
      else x[row * features + cell - 1] = v;
      cell++;
      if (b === 0x0a) [row, cell] = [row + 1, 0];
    }
    start = i + 1;
  }
  return { ids: Array.from({ length: rows }, (_, i) => String(i)), x, y, rows, features };
}

/** A cell's number: empty is missing (NaN), digits are summed exactly, anything else (a sign, a point, an exponent) goes through Number(). */
function cellValue(bytes: Buffer, start: number, end: number): number {
  if (start === end) return NaN;
  let v = 0;
  for (let i = start; i < end; i++) {
    const d = bytes[i] - 0x30;
    if (d < 0 || d > 9) return Number(bytes.toString('latin1', start, end));
    v = v * 10 + d;
  }
  return v;
}

function ourSide(trainFile: string, testFile: string, outFile: string, job: SideJob): void {
  const train = read(trainFile);
  const test = read(testFile);
  const empty = toDataset([], { features: anonymous(train.features) });
  const cpu0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  const model = fitGbdt(train, empty, job.params, { objective: objectiveOf(job), categorical: job.categorical });
  const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const predictions = predictGbdt(model, test);
  fs.writeFileSync(outFile, Array.from(predictions).join('\n'));
  // Taken where the XGBoost side takes it, after training and predicting: the ONNX export that follows has no counterpart there.
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  fs.writeFileSync(`${outFile}.onnx`, gbdtToOnnx(model, anonymous(train.features), 'bench'));
  process.stdout.write(JSON.stringify({ trainSeconds: wall, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssMb, trees: model.trees.length }));
}

if (require.main === module) ourSide(process.argv[2], process.argv[3], process.argv[4], JSON.parse(process.argv[5]) as SideJob);
