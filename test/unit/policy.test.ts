import { comparePolicy } from '../../ml/policy';
import { policySchema } from '../../specs/model-spec';

const policy = policySchema.parse({ floors: { auc: 0.7, logLoss: 0.5 }, margins: { auc: 0.005, logLoss: 0.01 } });
const good = { auc: 0.75, logLoss: 0.45, accuracy: 0.82 };

describe('policy comparison', () => {
  test('a first model is judged on the floors alone', () => {
    const v = comparePolicy(policy, good);
    expect(v.passed).toBe(true);
    expect(v.criteria.map((c) => c.kind)).toEqual(['floor', 'floor']);
  });

  test('a candidate below a floor fails with a plain reason', () => {
    const v = comparePolicy(policy, { ...good, auc: 0.65 });
    expect(v.passed).toBe(false);
    expect(v.failures).toEqual(['AUC 0.6500 is below the required minimum 0.7']);
  });

  test('non-inferiority: slightly worse than the champion passes, worse beyond the margin fails', () => {
    const champion = { auc: 0.76, logLoss: 0.44, accuracy: 0.82 };
    expect(comparePolicy(policy, { ...good, auc: 0.756, logLoss: 0.445 }, champion).passed).toBe(true);
    const v = comparePolicy(policy, { ...good, auc: 0.75, logLoss: 0.46 }, champion);
    expect(v.passed).toBe(false);
    expect(v.failures).toEqual([
      "AUC 0.7500 is worse than the champion's 0.7600 by more than the allowed 0.005",
      "log loss 0.4600 is worse than the champion's 0.4400 by more than the allowed 0.01",
    ]);
    const limit = v.criteria.find((c) => c.metric === 'auc' && c.kind === 'non-inferiority')!.limit;
    expect(limit).toBeCloseTo(0.755, 10);
  });

  test('an undefined metric (NaN, e.g. a one-class test set) never passes', () => {
    const v = comparePolicy(policy, { ...good, auc: Number.NaN });
    expect(v.passed).toBe(false);
    expect(v.failures).toEqual(['AUC could not be measured']);
  });

  test('advisory criteria warn without blocking; a failed infra check always blocks', () => {
    const p = policySchema.parse({ floors: { auc: 0.7, disparateImpactRatio: 0.8, latencyP99Ms: 5 }, advisory: ['disparateImpactRatio'] });
    const v = comparePolicy(p, { auc: 0.75, disparateImpactRatio: 0.6, latencyP99Ms: 1 }, undefined, { passed: true, reason: 'ok' });
    expect(v.passed).toBe(true);
    expect(v.warnings).toEqual(['disparate impact ratio 0.6000 is below the required minimum 0.8']);
    const broken = comparePolicy(p, { auc: 0.75, disparateImpactRatio: 0.9, latencyP99Ms: 1 }, undefined, { passed: false, reason: 'the model does not load' });
    expect(broken.failures).toEqual(['the model does not load']);
    const slow = comparePolicy(p, { auc: 0.75, disparateImpactRatio: 0.9, latencyP99Ms: 9 });
    expect(slow.failures).toEqual(['latency p99 (ms, batch 1) 9.0000 is above the allowed maximum 5']);
  });
});
