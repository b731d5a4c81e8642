import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { verifyAssertion } from '../../approvals/assertion';
import { refusal, tally, type GatePolicy, type Vote } from '../../approvals/policy';
import { publicKeys, SigningKey } from '../../approvals/signing-key';

const keyFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'approvals-key-')), 'signing-key.pem');

describe('signed assertions', () => {
  const key = SigningKey.loadOrCreate(keyFile());
  const keys = publicKeys([key.publicKeyHex]);
  const about = { workflowId: 'credit-pipeline-1', model: 'credit', version: 3, action: 'approve' as const, identity: 'alice', channel: 'slack' as const };
  const expected = { workflowId: 'credit-pipeline-1', version: 3, actions: ['approve'] as const };
  const now = Date.parse('2026-12-01T12:00:00Z');

  test('one signed by the service verifies once, with the claims it was issued with', () => {
    const a = key.sign({ ...about, comment: 'ship it' }, now);
    const v = verifyAssertion(a, keys, expected, now + 1000, new Set());
    expect(v).toEqual({ ok: true, claims: expect.objectContaining({ identity: 'alice', comment: 'ship it', keyId: key.keyId }) });
    expect(verifyAssertion(a, keys, expected, now + 1000, new Set([a.claims.nonce]))).toEqual({ ok: false, reason: `the assertion ${a.claims.nonce} was already used` });
  });

  test('the key file is created 0600, and one readable by others is refused', () => {
    const file = keyFile();
    SigningKey.loadOrCreate(file);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    fs.chmodSync(file, 0o644);
    expect(() => SigningKey.loadOrCreate(file)).toThrow('is readable by others');
  });

  test.each([
    ['nothing', () => undefined, 'no valid signed assertion'],
    ['a hand-written approval', () => ({ approver: 'alice' }), 'no valid signed assertion'],
    ['another key', () => SigningKey.loadOrCreate(keyFile()).sign(about, now), 'which is not a key of this factory'],
    ['altered claims', () => { const a = key.sign(about, now); return { ...a, claims: { ...a.claims, identity: 'mallory' } }; }, 'signature does not verify'],
    ['another key under this key id', () => { const a = SigningKey.loadOrCreate(keyFile()).sign(about, now); return { ...a, claims: { ...a.claims, keyId: key.keyId } }; }, 'signature does not verify'],
    ['another workflow', () => key.sign({ ...about, workflowId: 'other' }, now), 'is for workflow other'],
    ['another version', () => key.sign({ ...about, version: 2 }, now), 'is for v2, not v3'],
    ['another action', () => key.sign({ ...about, action: 'reject' }, now), 'is for "reject", not "approve"'],
    ['an expired one', () => key.sign(about, now - 10 * 60_000), 'expired at'],
    ['one from the future', () => key.sign(about, now + 10 * 60_000), 'issued in the future'],
  ])('refuses %s with a reason', (_what, make, reason) => {
    const v = verifyAssertion(make(), keys, expected, now, new Set());
    expect(v.ok).toBe(false);
    expect((v as { reason: string }).reason).toContain(reason);
  });
});

describe('gate policy', () => {
  const policy: GatePolicy = { model: 'credit', version: 3, eligible: ['alice', 'bob', 'carol'], excluded: { carol: 'they requested this training' }, required: 2 };
  const vote = (identity: string, decision: Vote['decision'] = 'approved'): Vote => ({ identity, decision, channel: 'cli', assertionId: identity.padEnd(32, '0'), at: '2026-12-01T12:00:00Z' });

  test('who may decide', () => {
    expect(refusal(policy, 'mallory', 'approve', [])).toBe('"mallory" is not an approver of credit (approvers: alice, bob, carol)');
    expect(refusal(policy, 'carol', 'approve', [])).toBe('"carol" may not approve credit v3: they requested this training (approval.independent)');
    expect(refusal(policy, 'carol', 'reject', [])).toBeUndefined();
    expect(refusal(policy, 'alice', 'approve', [vote('alice')])).toBe('"alice" already approved credit v3; 2 distinct approvers are needed');
  });

  test('N distinct approvals approve; one rejection rejects', () => {
    expect(tally(policy, [vote('alice')])).toEqual({ outcome: undefined, missing: 1 });
    expect(tally(policy, [vote('alice'), vote('bob')])).toEqual({ outcome: 'approved', missing: 0 });
    expect(tally(policy, [vote('alice'), vote('bob', 'rejected')])).toEqual({ outcome: 'rejected', missing: 0 });
  });
});
