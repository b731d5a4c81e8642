import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { parseModelSpec, type ModelSpec } from '../../../specs/model-spec';

/** The checkout's root, from dist/scripts/bench/kit. */
export const ROOT = path.resolve(__dirname, '../../../..');

/** A shipped spec (models/<model>.yaml, credit-default unless named), with change applied to its YAML before it is validated. */
export function shippedSpec(change: (raw: Record<string, any>) => void = () => undefined, model = 'credit-default'): ModelSpec {
  const raw = parse(fs.readFileSync(path.join(ROOT, `models/${model}.yaml`), 'utf8'));
  change(raw);
  return parseModelSpec(raw);
}
