/**
 * Our side of the GBDT benchmark (scripts/bench/gbdt.ts), in a process of its
 * own so that its peak RSS is the trainer's: it loads the trainer's modules
 * and nothing else of the benchmark's (no ONNX Runtime, no schema library;
 * the ONNX exporter once the peak is taken), as the XGBoost side loads numpy
 * and xgboost.
 *
 *   node dist/scripts/bench/gbdt-side.js TRAIN.csv TEST.csv OUT '{"params":…,"task":…,"label":…,"categorical":[…]}'
 */
import fs from 'node:fs';
import type { Dataset } from '../../ml/dataset';
import { objectiveOf } from '../../ml/gbdt/objectives';
import { fitGbdt, predictGbdt, type GbdtParams } from '../../ml/gbdt/train';
import type { FeatureSpec, ModelSpec } from '../../specs/model-spec';

/** What the benchmark hands this side: parameters already checked by the schema, and the task. */
export type SideJob = Pick<ModelSpec, 'task' | 'label'> & { params: GbdtParams; categorical: boolean[] };

/** The columns as the two trainers see them: numbers, in the spec's order. */
export const anonymous = (n: number): FeatureSpec[] => Array.from({ length: n }, (_, i) => ({ name: `f${i}`, type: 'number' }));

/**
 * The numbers straight into a dataset, from the file's bytes a chunk at a
 * time: a cell of digits is read as it goes, any other through Number(), and
 * neither the file nor a line is kept, as np.loadtxt reads them on the other
 * side: peak memory is the trainer's, not a CSV reader's.
 */
function read(file: string): Dataset {
  // First pass: the shape (lines with something on them; cells on the first line).
  let rows = 0;
  let features = -1;
  let cells = 1;
  let blank = true;
  eachChunk(file, (chunk, n) => {
    for (let i = 0; i < n; i++) {
      const b = chunk[i];
      if (b === NEWLINE) {
        if (!blank) rows++;
        if (!blank && features < 0) features = cells - 1;
        blank = true;
      } else {
        blank = false;
        if (b === COMMA && features < 0) cells++;
      }
    }
  });
  if (!blank) rows++;
  if (features < 0) features = cells - 1;
  const x = new Float64Array(rows * features);
  const y = new Float64Array(rows);
  // Second pass: each cell's bytes, carried over a chunk's end when a cell straddles it.
  const cell = Buffer.alloc(64);
  let length = 0;
  let row = 0;
  let column = 0;
  const end = () => {
    const v = cellValue(cell, length);
    if (column === 0) y[row] = v;
    else x[row * features + column - 1] = v;
    column++;
    length = 0;
  };
  eachChunk(file, (chunk, n) => {
    for (let i = 0; i < n; i++) {
      const b = chunk[i];
      if (b === COMMA) end();
      else if (b === NEWLINE) {
        if (column === 0 && length === 0) continue;
        end();
        [row, column] = [row + 1, 0];
      } else if (length < cell.length) cell[length++] = b;
      else throw new Error(`${file}: row ${row + 1}, column ${column + 1}: a cell longer than ${cell.length} bytes`);
    }
  });
  if (column > 0 || length > 0) end();
  return { ids: Array.from({ length: rows }, (_, i) => String(i)), x, y, rows, features };
}

const NEWLINE = 0x0a;
const COMMA = 0x2c;

function eachChunk(file: string, take: (chunk: Buffer, n: number) => void): void {
  const chunk = Buffer.alloc(1 << 16);
  const fd = fs.openSync(file, 'r');
  try {
    for (let n; (n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0; ) take(chunk, n);
  } finally {
    fs.closeSync(fd);
  }
}

/** A cell's number: empty is missing (NaN), digits are summed exactly, anything else (a sign, a point, an exponent) goes through Number(). */
function cellValue(bytes: Buffer, length: number): number {
  if (length === 0) return NaN;
  let v = 0;
  for (let i = 0; i < length; i++) {
    const d = bytes[i] - 0x30;
    if (d < 0 || d > 9) return Number(bytes.toString('latin1', 0, length));
    v = v * 10 + d;
  }
  return v;
}

function ourSide(trainFile: string, testFile: string, outFile: string, job: SideJob): void {
  const train = read(trainFile);
  const test = read(testFile);
  const empty: Dataset = { ids: [], x: new Float64Array(0), y: new Float64Array(0), rows: 0, features: train.features };
  const cpu0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  const model = fitGbdt(train, empty, job.params, { objective: objectiveOf(job), categorical: job.categorical });
  const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const predictions = predictGbdt(model, test);
  fs.writeFileSync(outFile, Array.from(predictions).join('\n'));
  // Taken where the XGBoost side takes it, after training and predicting: the ONNX export that follows has no counterpart there.
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  const { gbdtToOnnx } = require('../../ml/gbdt/onnx') as typeof import('../../ml/gbdt/onnx');
  fs.writeFileSync(`${outFile}.onnx`, gbdtToOnnx(model, anonymous(train.features), 'bench'));
  process.stdout.write(JSON.stringify({ trainSeconds: wall, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssMb, trees: model.trees.length }));
}

if (require.main === module) ourSide(process.argv[2], process.argv[3], process.argv[4], JSON.parse(process.argv[5]) as SideJob);
