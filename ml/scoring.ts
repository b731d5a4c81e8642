import * as ort from 'onnxruntime-node';
import { codeToGraphString, graphColumns } from '../specs/feature-encoding';
import { withCodesInput } from './onnx/codes-input';
import { encodedOrder } from './onnx/inputs';
import type { FeatureSpec, ModelSpec } from '../specs/model-spec';
import type { Dataset } from './dataset';
import { modelOutput, ONNX_CATEGORIES, ONNX_ENCODED, ONNX_INPUT } from './trainer';

/** What a scorer needs of a spec: the features, and the task (binary unless given) for the output. */
export type ScoredSpec = Pick<ModelSpec, 'features'> & Partial<Pick<ModelSpec, 'task' | 'label'>>;

/**
 * An ONNX model loaded in onnxruntime-node, checked against the factory's I/O
 * contract (ml/trainer.ts). Callers hand it rows as the factory encodes them
 * (specs/feature-encoding.ts). A model with string categories is given their
 * codes where its graph encodes them as the spec does (ml/onnx/codes-input.ts),
 * else the strings, which its graph encodes itself.
 */
export class OnnxScorer {
  private readonly columns: { numeric: number[]; strings: number[] };
  /** The spec's column at each column of "encoded". */
  private readonly order: number[];
  private readonly spec: FeatureSpec[];
  /** The output read, and how many numbers it has per row (the classes of a multiclass model, else 1). */
  readonly output: { name: string; width: number };

  private constructor(
    private readonly session: ort.InferenceSession,
    spec: ScoredSpec,
    /** Whether the session reads codes ("encoded") rather than strings. */
    private readonly codes: boolean,
  ) {
    this.spec = spec.features;
    this.columns = graphColumns(spec.features);
    this.order = encodedOrder(spec.features);
    this.output = modelOutput(spec);
  }

  get features(): number {
    return this.spec.length;
  }

  static async load(bytes: Uint8Array, spec: ScoredSpec): Promise<OnnxScorer> {
    const codes = withCodesInput(bytes, spec.features);
    const session = await ort.InferenceSession.create(codes ?? bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const { numeric, strings } = graphColumns(spec.features);
    const inputs = codes ? [ONNX_ENCODED] : [...(numeric.length > 0 ? [ONNX_INPUT] : []), ...(strings.length > 0 ? [ONNX_CATEGORIES] : [])];
    const output = modelOutput(spec).name;
    if (inputs.some((i) => !session.inputNames.includes(i)) || !session.outputNames.includes(output)) {
      await session.release();
      throw new Error(`a ${spec.task ?? 'binary-classification'} model must take [${inputs}] and return "${output}"; it takes [${session.inputNames}] and returns [${session.outputNames}]`);
    }
    return new OnnxScorer(session, spec, codes !== undefined);
  }

  /** Scores row-major encoded features (any number of rows): output.width numbers per row (probability, class probabilities or value). */
  async score(x: Float32Array, rows: number): Promise<Float32Array> {
    const out = await this.session.run(this.feeds(x, rows), [this.output.name]);
    return out[this.output.name].data as Float32Array;
  }

  private feeds(x: Float32Array, rows: number): Record<string, ort.Tensor> {
    const { numeric, strings } = this.columns;
    const F = this.spec.length;
    if (strings.length === 0) return { [ONNX_INPUT]: new ort.Tensor('float32', x, [rows, F]) };
    if (this.codes) {
      const e = new Float32Array(rows * F);
      const order = this.order;
      for (let i = 0; i < rows; i++) for (let k = 0; k < F; k++) e[i * F + k] = x[i * F + order[k]];
      return { [ONNX_ENCODED]: new ort.Tensor('float32', e, [rows, F]) };
    }
    const feeds: Record<string, ort.Tensor> = {};
    if (numeric.length > 0) {
      const n = new Float32Array(rows * numeric.length);
      for (let i = 0; i < rows; i++) for (let k = 0; k < numeric.length; k++) n[i * numeric.length + k] = x[i * F + numeric[k]];
      feeds[ONNX_INPUT] = new ort.Tensor('float32', n, [rows, numeric.length]);
    }
    const s: string[] = new Array(rows * strings.length);
    for (let i = 0; i < rows; i++) for (let k = 0; k < strings.length; k++) s[i * strings.length + k] = codeToGraphString(this.spec[strings[k]], x[i * F + strings[k]]);
    feeds[ONNX_CATEGORIES] = new ort.Tensor('string', s, [rows, strings.length]);
    return feeds;
  }

  async scoreDataset(d: Dataset, batch = 4096): Promise<Float64Array> {
    const out = new Float64Array(d.rows * this.output.width);
    for (let start = 0; start < d.rows; start += batch) {
      const end = Math.min(d.rows, start + batch);
      const x = Float32Array.from(d.x.subarray(start * d.features, end * d.features));
      out.set(await this.score(x, end - start), start * this.output.width);
    }
    return out;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
