import { validateBatch, toCanonicalCsv, fromCanonicalCsv } from '../../specs/data-batch';
import { parseModelSpec } from '../../specs/model-spec';
import { loadEnv } from '../../config/env';
import { toySpec } from './toy-spec';

const base = {
  ...toySpec,
  features: [toySpec.features[0], { name: 'sex', type: 'category', values: [1, 2] }, toySpec.features[1]],
  protectedAttributes: ['sex'],
};

describe('model spec', () => {
  test('a parsed spec parses again to itself (the registry stores the parsed form)', () => {
    const spec = parseModelSpec({ ...base, features: [...base.features], protectedAttributes: ['sex', { feature: 'age', bands: [30, 60] }] });
    expect(parseModelSpec(JSON.parse(JSON.stringify(spec)))).toEqual(JSON.parse(JSON.stringify(spec)));
  });

  test('fills defaults for policy, split and trainer parameters', () => {
    const spec = parseModelSpec(base);
    expect(spec.policy).toEqual({ threshold: 0.5, floors: {}, margins: {}, advisory: [], onFail: 'reject' });
    expect(spec.protectedAttributes).toEqual([{ feature: 'sex', bands: undefined }]);
    expect(spec.fairness).toEqual({ minGroupSize: 100 });
    expect(spec.split).toEqual({ seed: 42, test: 0.2, validation: 0.1 });
    expect(spec.trainer).toEqual({ kind: 'logistic-regression', l2: 1, maxIterations: 50, tolerance: 1e-8 });
    expect(spec.approval).toEqual({ approvers: ['alice'], required: 1, independent: false, timeout: '72h', onTimeout: 'reject', supersede: false });
  });

  test.each([
    [{ policy: { floors: { aucc: 0.7 } } }, 'spec.policy.floors: Unrecognized key: "aucc"'],
    [{ policy: { advisory: ['latency'] } }, 'spec.policy.advisory.0'],
    [{ protectedAttributes: ['age'] }, '"age" is numeric: give its bands'],
    [{ protectedAttributes: [{ feature: 'age', bands: [40, 30] }] }, 'bands must ascend'],
    [{ approval: { approvers: [] } }, 'spec.approval.approvers: at least one approver is required'],
    [{ approval: { approvers: ['a'], timeout: 'three days' } }, 'spec.approval.timeout: must be a duration'],
    [{ approval: { approvers: ['alice', 'bob'], required: 3 } }, 'spec.approval.required: required is more than the approvers named'],
    [{ approval: { approvers: ['Alice Smith'] } }, 'spec.approval.approvers.0: must be a factory identity (e.g. "alice") or a group'],
    [{ protectedAttributes: ['race'] }, 'spec.protectedAttributes.0: "race" is not a feature of this model'],
    [{ trainer: { kind: 'random-forest' } }, 'spec.trainer.kind'],
    [{ name: 'Bad Name' }, 'spec.name: must be lowercase'],
    [{ features: [{ name: 'sex', type: 'category' }] }, 'a category feature needs its allowed values'],
  ])('rejects %j naming the field', (change, message) => {
    expect(() => parseModelSpec({ ...base, ...change })).toThrow(message);
  });
});

describe('data batch validation', () => {
  const spec = parseModelSpec(base);

  test('accepts a valid batch and round-trips it through the canonical form', () => {
    const r = validateBatch(spec, 'id,age,sex,amount,y\n1,30,1,100.5,0\n2,45,2,-3,1\n');
    expect(r.errors).toEqual([]);
    expect(fromCanonicalCsv(spec, toCanonicalCsv(spec, r.rows))).toEqual(r.rows);
  });

  test('column order and extra columns do not matter', () => {
    const r = validateBatch(spec, 'note,y,amount,sex,age,id\nx,1,5,2,33,7\n');
    expect(r.rows).toEqual([{ id: '7', label: 1, features: [33, 2, 5] }]);
  });

  test('reports every bad cell with its line and column, and accepts none of the batch', () => {
    const r = validateBatch(spec, ['id,age,sex,amount,y', '1,30,1,1,0', '2,17,1,1,0', '3,30,3,1,0', '4,30,1,,0', '5,30.5,1,1,2', '1,30,1,1,0'].join('\n'));
    expect(r.rows).toEqual([]);
    expect(r.errors).toEqual([
      { line: 3, column: 'age', value: '17', message: 'must be at least 18' },
      { line: 4, column: 'sex', value: '3', message: 'must be one of 1, 2' },
      { line: 5, column: 'amount', value: '', message: 'is empty' },
      { line: 6, column: 'y', value: '2', message: 'must be 0 or 1' },
      { line: 6, column: 'age', value: '30.5', message: 'must be an integer' },
      { line: 7, column: 'id', value: '1', message: 'duplicate id, first seen on line 2' },
    ].sort((a, b) => a.line - b.line || (a.column === 'y' ? -1 : 1)));
  });

  test('a missing column, a ragged row and an empty file are each named', () => {
    expect(validateBatch(spec, 'id,age,sex,y\n1,30,1,0\n').errors).toEqual([{ line: 1, column: 'amount', message: 'required column is missing from the header' }]);
    expect(validateBatch(spec, 'id,age,sex,amount,y\n1,30,1\n').errors).toEqual([{ line: 2, column: '*', message: 'has 3 fields, the header has 5' }]);
    expect(validateBatch(spec, '').errors[0].message).toContain('empty');
  });
});

describe('environment', () => {
  test('a bad setting names the variable', () => {
    expect(() => loadEnv({ S3_PORT: 'seventy' })).toThrow('S3_PORT');
    expect(() => loadEnv({ S3_BUCKET: 'Bad_Bucket' })).toThrow('S3_BUCKET: must be a valid S3 bucket name');
  });
});
