import * as ort from 'onnxruntime-node';
import type { Dataset } from './dataset';
import { ONNX_INPUT, ONNX_OUTPUT } from './trainer';

/** An ONNX model loaded in onnxruntime-node, checked against the factory's I/O contract. */
export class OnnxScorer {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly features: number,
  ) {}

  static async load(bytes: Uint8Array, features: number): Promise<OnnxScorer> {
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    if (!session.inputNames.includes(ONNX_INPUT) || !session.outputNames.includes(ONNX_OUTPUT)) {
      await session.release();
      throw new Error(
        `ONNX model must take "${ONNX_INPUT}" and return "${ONNX_OUTPUT}"; it takes [${session.inputNames}] and returns [${session.outputNames}]`,
      );
    }
    return new OnnxScorer(session, features);
  }

  /** Scores row-major features (any number of rows) and returns one probability per row. */
  async score(x: Float32Array, rows: number): Promise<Float32Array> {
    const input = new ort.Tensor('float32', x, [rows, this.features]);
    const out = await this.session.run({ [ONNX_INPUT]: input }, [ONNX_OUTPUT]);
    return out[ONNX_OUTPUT].data as Float32Array;
  }

  async scoreDataset(d: Dataset, batch = 4096): Promise<Float64Array> {
    const out = new Float64Array(d.rows);
    for (let start = 0; start < d.rows; start += batch) {
      const end = Math.min(d.rows, start + batch);
      const x = Float32Array.from(d.x.subarray(start * d.features, end * d.features));
      out.set(await this.score(x, end - start), start);
    }
    return out;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
