import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Pool, PoolClient } from 'pg';
import { findModel, lastSpecChange, upsertModel } from '../../db/models';
import { ensureAdmin } from '../../people/admin';
import { readCredentials, writeCredentials } from '../../people/credentials';
import {
  ADMINS,
  addPerson,
  authenticate,
  AuthenticationError,
  DirectoryError,
  disablePerson,
  enablePerson,
  findBySlack,
  issueToken,
  listPeople,
  resolveApprovers,
  setGroups,
} from '../../people/directory';
import { parseToken } from '../../people/tokens';
import { callerOf, CliError, type CliContext } from '../../scripts/cli/context';
import { peopleAdd, peopleDisable, peopleGroups, peopleList, peopleToken } from '../../scripts/cli/people';
import { creditSpec, ctx, ROOT, uniqueName } from './helpers';

/** Every token this file sees, to prove afterwards that none reached the audit trail. */
const tokens: string[] = [];
const remember = (token: string) => (tokens.push(token), token);
/** Everyone this file adds; disabled at the end, so the shared directory keeps no admin of ours. */
const added: string[] = [];
const person = (prefix: string) => {
  const id = uniqueName(prefix);
  added.push(id);
  return id;
};
/** A Slack id unique to this run: uppercase letters and digits only. */
const slackId = (prefix: 'T' | 'U') => `${prefix}${process.pid}${Date.now().toString(36).toUpperCase()}${added.length}`;

let dir: string;
let since: Date;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'people-test-'));
  since = await ctx(async (c) => (await c.db.query<{ now: Date }>('SELECT now()')).rows[0].now);
});
afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await ctx(async (c) => {
    for (const id of added) await disablePerson(c.db, id, 'people-test').catch(() => undefined);
  });
});

/** The CLI context as a caller holding `token` would have it; undefined: no FACTORY_TOKEN and no credentials file. */
function as(c: CliContext, token: string | undefined, credentialsFile = path.join(dir, 'no-such-file')): CliContext {
  return { ...c, env: { ...c.env, FACTORY_TOKEN: token, FACTORY_CREDENTIALS_FILE: credentialsFile } };
}

async function newPerson(db: Pool, prefix: string, groups: string[] = []) {
  const id = person(prefix);
  await addPerson(db, { id, displayName: `Test ${prefix}`, groups }, 'people-test');
  return { id, token: remember(await issueToken(db, id, 'people-test')) };
}

async function authError(db: Pool | PoolClient, token: string): Promise<AuthenticationError> {
  const err = await authenticate(db, token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuthenticationError);
  return err as AuthenticationError;
}

async function lastAudit(db: Pool, action: string, person: string) {
  const res = await db.query<{ actor: string; outcome: string; channel: string | null; details: Record<string, unknown> }>(
    "SELECT actor, outcome, channel, details FROM audit_events WHERE action = $1 AND details->>'person' = $2 ORDER BY id DESC LIMIT 1",
    [action, person],
  );
  return res.rows[0];
}

describe('the directory of people', () => {
  test('ensureAdmin creates an admin with a 0600 credentials file once, and not again', async () => {
    await ctx(async (c) => {
      const file = path.join(dir, 'bootstrap', 'credentials', 'token');
      // Isolated from the shared directory: its admins are set aside inside a transaction that is rolled back.
      const tx = await c.db.connect();
      try {
        await tx.query('BEGIN');
        await tx.query('UPDATE people SET disabled_at = now() WHERE disabled_at IS NULL AND id IN (SELECT person_id FROM person_groups WHERE group_name = $1)', [ADMINS]);
        expect(await ensureAdmin(tx, file)).toEqual({ created: true, file });
        expect(fs.statSync(file).mode & 0o777).toBe(0o600);
        expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
        const token = remember(readCredentials(file)!);
        expect(await authenticate(tx, token)).toMatchObject({ id: 'admin', displayName: 'Factory admin', groups: expect.arrayContaining([ADMINS]), disabled: false });
        const written = fs.readFileSync(file, 'utf8');

        expect(await ensureAdmin(tx, file)).toEqual({ created: false, file });
        expect(fs.readFileSync(file, 'utf8')).toBe(written);

        const trail = await tx.query<{ actor: string; action: string }>("SELECT actor, action FROM audit_events WHERE details->>'person' = 'admin' AND at >= $1 ORDER BY id", [since]);
        expect(trail.rows.map((r) => r.action)).toContain('person.token');
        expect(new Set(trail.rows.map((r) => r.actor))).toEqual(new Set(['factory']));

        // The last admin cannot be disabled through the directory...
        await expect(disablePerson(tx, 'admin', 'people-test')).rejects.toThrow('"admin" is the last enabled admin');
        // ...but if every admin is disabled anyway (in the database), the next start brings "admin" back with a new token; the old one stays dead.
        await tx.query("UPDATE people SET disabled_at = now() WHERE id = 'admin'");
        await tx.query("UPDATE person_tokens SET revoked_at = now() WHERE person_id = 'admin'");
        expect(await ensureAdmin(tx, file)).toEqual({ created: true, file });
        const renewed = remember(readCredentials(file)!);
        expect(renewed).not.toBe(token);
        expect(await authenticate(tx, renewed)).toMatchObject({ id: 'admin', disabled: false });
        expect((await authError(tx, token)).personId).toBeUndefined();
      } finally {
        await tx.query('ROLLBACK');
        tx.release();
      }
    });
  });

  test('people are added, listed, found by Slack id, regrouped and disabled; bad input is a clear error', async () => {
    await ctx(async (c) => {
      const id = person('alice');
      const slack = { teamId: slackId('T'), userId: slackId('U') };
      const group = uniqueName('risk');
      const alice = await addPerson(c.db, { id, displayName: ' Alice Example ', slack, groups: [group, group] }, 'people-test');
      expect(alice).toEqual({ id, displayName: 'Alice Example', slack, groups: [group], disabled: false });
      expect(await lastAudit(c.db, 'person.add', id)).toMatchObject({ actor: 'people-test', outcome: 'ok', details: { person: id, slack, groups: [group] } });
      expect((await listPeople(c.db)).find((p) => p.id === id)).toEqual(alice);
      expect(await findBySlack(c.db, slack.teamId, slack.userId)).toEqual(alice);
      expect(await findBySlack(c.db, slack.teamId, 'UNOBODY')).toBeUndefined();

      await expect(addPerson(c.db, { id, displayName: 'again' }, 'people-test')).rejects.toThrow(new DirectoryError(`person "${id}" already exists`));
      const other = person('alias');
      await expect(addPerson(c.db, { id: other, displayName: 'Alias', slack }, 'people-test')).rejects.toThrow(`Slack user ${slack.teamId}:${slack.userId} is already person "${id}"`);
      await expect(addPerson(c.db, { id: 'Bob', displayName: 'Bob' }, 'people-test')).rejects.toThrow('"Bob" is not a valid person id: it must start with a lowercase letter');
      await expect(addPerson(c.db, { id: other, displayName: '  ' }, 'people-test')).rejects.toThrow('the display name must not be empty');
      await expect(addPerson(c.db, { id: other, displayName: 'Alias', slack: { teamId: 'T1', userId: '@alias' } }, 'people-test')).rejects.toThrow('"@alias" is not a Slack user id');
      await expect(addPerson(c.db, { id: other, displayName: 'Alias', groups: ['Risk Team'] }, 'people-test')).rejects.toThrow('"Risk Team" is not a valid group name');
      expect((await listPeople(c.db)).some((p) => p.id === other)).toBe(false);

      expect(await setGroups(c.db, id, [group, 'reviewers'], 'people-test')).toMatchObject({ groups: [group, 'reviewers'].sort() });
      expect(await lastAudit(c.db, 'person.groups', id)).toMatchObject({ details: { from: [group], to: [group, 'reviewers'].sort() } });

      expect(await disablePerson(c.db, id, 'people-test')).toEqual({ person: { ...alice, groups: [group, 'reviewers'].sort(), disabled: true }, changed: true });
      expect(await disablePerson(c.db, id, 'people-test')).toMatchObject({ changed: false });
      expect(await lastAudit(c.db, 'person.disable', id)).toMatchObject({ actor: 'people-test', outcome: 'ok', details: { tokenRevoked: false } });
      await expect(disablePerson(c.db, 'nobody-at-all-here', 'people-test')).rejects.toThrow('unknown person "nobody-at-all-here"');
      await expect(issueToken(c.db, 'nobody-at-all-here', 'people-test')).rejects.toThrow('unknown person "nobody-at-all-here"');
      await expect(issueToken(c.db, id, 'people-test')).rejects.toThrow(`person "${id}" is disabled; a disabled person gets no token`);
    });
  });

  test('authenticate: the right token proves its person; wrong, malformed, unknown and replaced tokens get one message; a disabled person is told so', async () => {
    await ctx(async (c) => {
      const { id, token } = await newPerson(c.db, 'carol', ['approvers']);
      expect(await authenticate(c.db, token)).toMatchObject({ id, groups: ['approvers'], disabled: false });

      const { tokenId, secret } = parseToken(token)!;
      const otherSecret = parseToken(remember(await issueToken(c.db, (await newPerson(c.db, 'dave')).id, 'people-test')))!.secret;
      const newer = remember(await issueToken(c.db, id, 'people-test'));
      expect(await lastAudit(c.db, 'person.token', id)).toMatchObject({ details: { tokenId: parseToken(newer)!.tokenId, replaced: tokenId } });
      const refused = [
        `fct_${tokenId}_${otherSecret}`,
        token,
        `fct_0000000000000000_${secret}`,
        token.slice(0, -1),
        '',
        `Bearer ${newer}`,
      ];
      const messages = new Set<string>();
      for (const t of refused) {
        const err = await authError(c.db, t);
        expect(err.personId).toBeUndefined();
        messages.add(err.message);
      }
      expect([...messages]).toEqual(['the token is not valid: it is malformed, unknown, replaced or revoked']);
      expect(await authenticate(c.db, newer)).toMatchObject({ id });

      await disablePerson(c.db, id, 'people-test');
      expect(await lastAudit(c.db, 'person.disable', id)).toMatchObject({ details: { tokenRevoked: true } });
      const disabled = await authError(c.db, newer);
      expect(disabled.message).toBe(`person "${id}" is disabled`);
      expect(disabled.personId).toBe(id);
      // Only the secret's holder learns that: the same token id with another secret is the generic refusal.
      expect((await authError(c.db, `fct_${parseToken(newer)!.tokenId}_${otherSecret}`)).message).toBe([...messages][0]);

      // Enabled again, the person is still without a token: disabling revoked it for good.
      expect(await enablePerson(c.db, id, 'people-test')).toMatchObject({ changed: true, person: { disabled: false } });
      expect(await lastAudit(c.db, 'person.enable', id)).toMatchObject({ actor: 'people-test', outcome: 'ok' });
      expect((await authError(c.db, newer)).message).toBe([...messages][0]);
      expect(await authenticate(c.db, remember(await issueToken(c.db, id, 'people-test')))).toMatchObject({ id });
    });
  });

  test('resolveApprovers: person ids and group:<name>, enabled people only, sorted, without repeats', async () => {
    await ctx(async (c) => {
      const group = uniqueName('credit-risk');
      const empty = uniqueName('nobody');
      const zed = person('zed');
      const amy = person('amy');
      const ben = person('ben');
      const out = person('out');
      await addPerson(c.db, { id: zed, displayName: 'Zed', groups: [group] }, 'people-test');
      await addPerson(c.db, { id: amy, displayName: 'Amy', groups: [group] }, 'people-test');
      await addPerson(c.db, { id: ben, displayName: 'Ben' }, 'people-test');
      await addPerson(c.db, { id: out, displayName: 'Out', groups: [group] }, 'people-test');
      await disablePerson(c.db, out, 'people-test');

      expect(await resolveApprovers(c.db, [`group:${group}`, ben, amy, `group:${group}`])).toEqual([amy, ben, zed].sort());
      expect(await resolveApprovers(c.db, [out, ben])).toEqual([ben]);
      expect(await resolveApprovers(c.db, [`group:${empty}`])).toEqual([]);
      expect(await resolveApprovers(c.db, [])).toEqual([]);
      await expect(resolveApprovers(c.db, [amy, 'ghost-approver'])).rejects.toThrow(new DirectoryError('unknown person "ghost-approver" among the approvers'));
      await expect(resolveApprovers(c.db, ['group:Credit Risk'])).rejects.toThrow('"Credit Risk" is not a valid group name');
      await expect(resolveApprovers(c.db, ['Alice'])).rejects.toThrow('"Alice" is not a valid person id');
    });
  });

  test('factory people: an admin adds, lists, regroups, issues a token and disables; the printed token works once issued', async () => {
    await ctx(async (c) => {
      const admin = await newPerson(c.db, 'root', [ADMINS]);
      expect(await callerOf(as(c, admin.token))).toMatchObject({ id: admin.id, groups: [ADMINS] });
      const id = person('erin');
      const slack = `${slackId('T')}:${slackId('U')}`;
      expect(await peopleAdd(as(c, admin.token), id, { name: 'Erin Example', slack, group: ['approvers', 'ops'] })).toBe(
        `added ${id} (Erin Example); slack ${slack}; groups approvers, ops\n  their CLI token: factory people token ${id}`,
      );
      expect(await lastAudit(c.db, 'person.add', id)).toMatchObject({ actor: admin.id, outcome: 'ok' });

      const table = (await peopleList(as(c, admin.token))).split('\n');
      expect(table[0]).toMatch(/^id\s+name\s+slack\s+groups\s+status$/);
      expect(table.find((l) => l.startsWith(`${id} `))).toMatch(new RegExp(`^${id}\\s+Erin Example\\s+${slack}\\s+approvers,ops\\s+enabled$`));

      expect(await peopleGroups(as(c, admin.token), id, ['approvers'])).toBe(`${id}: groups approvers`);

      const issued = await peopleToken(as(c, admin.token), id);
      expect(issued).toContain('It is shown only now');
      const token = remember(issued.split('\n')[1].trim());
      expect(await authenticate(c.db, token)).toMatchObject({ id, groups: ['approvers'] });
      expect(await lastAudit(c.db, 'person.token', id)).toMatchObject({ actor: admin.id });

      // The credentials file is where the CLI looks when FACTORY_TOKEN is unset.
      const file = path.join(dir, 'admin-credentials', 'token');
      writeCredentials(file, admin.token);
      expect(await peopleDisable(as(c, undefined, file), id)).toBe(`${id} is disabled; their token is revoked`);
      expect(await peopleDisable(as(c, undefined, file), id)).toBe(`${id} was already disabled`);
      expect((await peopleList(as(c, admin.token))).split('\n').find((l) => l.startsWith(`${id} `))).toMatch(/disabled$/);
      expect((await authError(c.db, token)).message).toBe(`person "${id}" is disabled`);

      // The commands as registered in the CLI: a separate process, its exit code and output.
      const cli = (token: string | undefined, ...args: string[]) => {
        const env: NodeJS.ProcessEnv = { ...process.env, FACTORY_CREDENTIALS_FILE: path.join(dir, 'no-such-file') };
        delete env.FACTORY_TOKEN;
        if (token) env.FACTORY_TOKEN = token;
        const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/scripts/factory.js'), 'people', ...args], { encoding: 'utf8', env });
        return { code: r.status, out: r.stdout, err: r.stderr };
      };
      expect(cli(admin.token, 'list')).toMatchObject({ code: 0, out: expect.stringMatching(new RegExp(`^${id}\\s+Erin Example\\s.*disabled$`, 'm')) });
      expect(cli(undefined, 'disable', admin.id)).toMatchObject({ code: 1, err: expect.stringMatching(/^error: no factory token: set FACTORY_TOKEN/) });

      await expect(peopleAdd(as(c, admin.token), 'Not Valid', { name: 'x' })).rejects.toThrow(new CliError('"Not Valid" is not a valid person id: it must start with a lowercase letter and hold at most 63 of a-z, 0-9, ".", "_", "-"'));
      await expect(peopleAdd(as(c, admin.token), person('frank'), { name: 'Frank', slack: 'T1U1' })).rejects.toThrow('--slack "T1U1" is not <TEAM_ID>:<USER_ID>');
      expect(await lastAudit(c.db, 'person.add', 'Not Valid')).toMatchObject({ actor: admin.id, outcome: 'denied', channel: 'cli' });
    });
  });

  test('factory people refuses a non-admin, a wrong token, no token and a credentials file others can read, and audits each refusal', async () => {
    await ctx(async (c) => {
      const member = await newPerson(c.db, 'gina', ['approvers']);
      const target = person('target');
      const refusals: [CliContext, string][] = [
        [as(c, member.token), `${member.id} is not in group "admins"; only its members manage people`],
        [as(c, `${member.token.slice(0, -1)}${member.token.endsWith('A') ? 'B' : 'A'}`), 'the token is not valid: it is malformed, unknown, replaced or revoked (the token from FACTORY_TOKEN)'],
        [as(c, 'not-a-token'), 'the token is not valid: it is malformed, unknown, replaced or revoked (the token from FACTORY_TOKEN)'],
        [as(c, undefined), 'no factory token: set FACTORY_TOKEN or keep yours in'],
      ];
      for (const [context, message] of refusals) {
        await expect(peopleAdd(context, target, { name: 'Target', group: [ADMINS] })).rejects.toThrow(message);
        await expect(peopleToken(context, member.id)).rejects.toThrow(CliError);
      }
      const readable = path.join(dir, 'readable-token');
      fs.writeFileSync(readable, member.token, { mode: 0o644 });
      fs.chmodSync(readable, 0o644);
      await expect(peopleList(as(c, undefined, readable))).rejects.toThrow(`the credentials file ${readable} has mode 0644, which lets group or others read it`);
      expect((await listPeople(c.db)).some((p) => p.id === target)).toBe(false);

      const denied = await c.db.query<{ actor: string; details: Record<string, unknown> }>(
        "SELECT actor, details FROM audit_events WHERE action = 'person.add' AND outcome = 'denied' AND details->>'person' = $1 ORDER BY id",
        [target],
      );
      expect(denied.rows.map((r) => r.actor)).toEqual([member.id]);
      const unauthenticated = await c.db.query<{ actor: string; details: Record<string, unknown> }>(
        "SELECT actor, details FROM audit_events WHERE action = 'person.add' AND outcome = 'denied' AND actor = 'unauthenticated' AND at >= $1 ORDER BY id",
        [since],
      );
      expect(unauthenticated.rows.map((r) => r.details.reason)).toEqual(expect.arrayContaining(refusals.slice(1).map(([, m]) => expect.stringContaining(m))));
      expect(unauthenticated.rows.find((r) => r.details.tokenId === parseToken(member.token)!.tokenId)).toMatchObject({ details: { tokenSource: 'FACTORY_TOKEN', osUser: c.actor } });
    });
  });

  test("a model's spec history: each change with who made it and its hash, none for an unchanged spec", async () => {
    await ctx(async (c) => {
      const name = uniqueName('credit-people');
      await upsertModel(c.db, creditSpec(name), 'alice');
      const { id } = await findModel(c.db, name);
      const first = await lastSpecChange(c.db, id);
      expect(first).toEqual({ by: 'alice', at: expect.any(Date), specSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(await upsertModel(c.db, creditSpec(name), 'bob')).toEqual({ id, changed: false });
      expect(await lastSpecChange(c.db, id)).toEqual(first);
      await upsertModel(c.db, creditSpec(name, (raw) => (raw.description = 'changed')), 'carol');
      const second = await lastSpecChange(c.db, id);
      expect(second).toMatchObject({ by: 'carol' });
      expect(second!.specSha256).not.toBe(first!.specSha256);
      const rows = await c.db.query('SELECT 1 FROM model_spec_changes WHERE model_id = $1', [id]);
      expect(rows.rowCount).toBe(2);
      expect(await lastSpecChange(c.db, -1)).toBeUndefined();
    });
  });

  test('no token, secret or hash reaches the audit trail', async () => {
    await ctx(async (c) => {
      expect(tokens.length).toBeGreaterThan(5);
      const hashes = (await c.db.query<{ secret_hash: string }>('SELECT secret_hash FROM person_tokens')).rows.map((r) => r.secret_hash);
      const trail = (await c.db.query<{ row: string }>('SELECT row_to_json(a)::text AS row FROM audit_events a WHERE at >= $1', [since])).rows.map((r) => r.row);
      expect(trail.length).toBeGreaterThan(10);
      const secrets = tokens.map((t) => parseToken(t)!.secret);
      for (const row of trail) {
        for (const s of [...tokens, ...secrets, ...hashes]) expect(row).not.toContain(s);
        expect(row).not.toMatch(/scrypt\$/);
      }
    });
  });
});
