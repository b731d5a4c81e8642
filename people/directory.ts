import type { Pool, PoolClient } from 'pg';
import { z } from 'zod';
import { audit } from '../db/models';
import { atomically } from '../db/pool';
import { hashSecret, newToken, parseToken, verifySecret } from './tokens';

type Db = Pool | PoolClient;

/** A person who can decide: their factory identity, how Slack knows them, and the groups approval policies name. */
export interface Person {
  id: string;
  displayName: string;
  slack?: { teamId: string; userId: string };
  groups: string[];
  disabled: boolean;
}

/** The group whose members manage the directory. */
export const ADMINS = 'admins';

/** A change the directory refuses; the message names what was wrong. */
export class DirectoryError extends Error {
  override name = 'DirectoryError';
}

const INVALID_TOKEN = 'the token is not valid: it is malformed, unknown, replaced or revoked';

/**
 * A token that proves nobody. Every bad token gets the same message, so an
 * attempt learns nothing about which part was wrong; only the holder of a
 * valid token whose person is disabled is told so, with `personId` set.
 */
export class AuthenticationError extends Error {
  override name = 'AuthenticationError';
  constructor(message = INVALID_TOKEN, readonly personId?: string) {
    super(message);
  }
}

// Must match the CHECKs on people.id and person_groups.group_name (db/migrations/005_people.sql).
const NAME = /^[a-z][a-z0-9._-]{0,62}$/;
const NAME_RULE = 'it must start with a lowercase letter and hold at most 63 of a-z, 0-9, ".", "_", "-"';
const name = (kind: string) => z.string().regex(NAME, { error: (i) => `"${String(i.input)}" is not a valid ${kind}: ${NAME_RULE}` });
const slackId = (kind: string) =>
  z.string().regex(/^[A-Z][A-Z0-9]{1,31}$/, { error: (i) => `"${String(i.input)}" is not a Slack ${kind} id (uppercase letters and digits, e.g. ${kind === 'team' ? 'T024BE7LD' : 'U024BE7LH'})` });

/** Names the factory itself writes into the audit trail as actors: no person may take one. */
export const SYSTEM_ACTORS = ['factory', 'unverified', 'unauthenticated', 'schedule', 'drift-monitor', 'test'];
export const personIdSchema = name('person id').refine((id) => !SYSTEM_ACTORS.includes(id), { error: (i) => `"${String(i.input)}" is reserved: the factory writes it in the audit trail for what no person did` });
export const groupNameSchema = name('group name');

const newPersonSchema = z
  .object({
    id: personIdSchema,
    displayName: z.string().trim().min(1, 'the display name must not be empty').max(200, 'the display name is longer than 200 characters'),
    slack: z.object({ teamId: slackId('team'), userId: slackId('user') }).strict().optional(),
    groups: z.array(groupNameSchema).default([]),
  })
  .strict();
export type NewPerson = z.input<typeof newPersonSchema>;

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new DirectoryError(r.error.issues.map((i) => i.message).join('; '));
  return r.data;
}

const unique = (names: string[]) => [...new Set(names)].sort();

interface PersonRow {
  id: string;
  display_name: string;
  slack_team_id: string | null;
  slack_user_id: string | null;
  disabled: boolean;
  groups: string[];
}

const SELECT_PEOPLE = `
  SELECT p.id, p.display_name, p.slack_team_id, p.slack_user_id, p.disabled_at IS NOT NULL AS disabled,
         coalesce(array_agg(g.group_name) FILTER (WHERE g.group_name IS NOT NULL), '{}') AS groups
    FROM people p LEFT JOIN person_groups g ON g.person_id = p.id`;

const toPerson = (r: PersonRow): Person => ({
  id: r.id,
  displayName: r.display_name,
  ...(r.slack_team_id && r.slack_user_id && { slack: { teamId: r.slack_team_id, userId: r.slack_user_id } }),
  groups: unique(r.groups),
  disabled: r.disabled,
});

export async function findPerson(db: Db, id: string): Promise<Person | undefined> {
  const res = await db.query<PersonRow>(`${SELECT_PEOPLE} WHERE p.id = $1 GROUP BY p.id`, [id]);
  return res.rows[0] && toPerson(res.rows[0]);
}

/** The person, their row locked until the transaction ends, so checks and changes see the same state. */
async function lockPerson(tx: PoolClient, id: string): Promise<Person> {
  const locked = await tx.query('SELECT id FROM people WHERE id = $1 FOR UPDATE', [parse(personIdSchema, id)]);
  if (locked.rowCount === 0) throw new DirectoryError(`unknown person "${id}"`);
  return (await findPerson(tx, id))!;
}

/** Everyone, disabled people included, by id. */
export async function listPeople(db: Db): Promise<Person[]> {
  const res = await db.query<PersonRow>(`${SELECT_PEOPLE} GROUP BY p.id`);
  return res.rows.map(toPerson).sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** The person Slack knows by these ids, disabled or not (`disabled` says which); undefined for a stranger. */
export async function findBySlack(db: Db, teamId: string, userId: string): Promise<Person | undefined> {
  const res = await db.query<PersonRow>(`${SELECT_PEOPLE} WHERE p.slack_team_id = $1 AND p.slack_user_id = $2 GROUP BY p.id`, [teamId, userId]);
  return res.rows[0] && toPerson(res.rows[0]);
}

export async function addPerson(db: Db, input: NewPerson, actor: string): Promise<Person> {
  const p = parse(newPersonSchema, input);
  const groups = unique(p.groups);
  return atomically(db, async (tx) => {
    // Without a conflict target, a clash on either the id or the Slack identity inserts nothing; which one is told apart below.
    const inserted = await tx.query(
      'INSERT INTO people (id, display_name, slack_team_id, slack_user_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [p.id, p.displayName, p.slack?.teamId ?? null, p.slack?.userId ?? null],
    );
    if (inserted.rowCount === 0) {
      if (await findPerson(tx, p.id)) throw new DirectoryError(`person "${p.id}" already exists`);
      const holder = await findBySlack(tx, p.slack!.teamId, p.slack!.userId);
      throw new DirectoryError(`Slack user ${p.slack!.teamId}:${p.slack!.userId} is already ${holder ? `person "${holder.id}"` : 'another person'}`);
    }
    await tx.query('INSERT INTO person_groups (group_name, person_id) SELECT unnest($1::text[]), $2', [groups, p.id]);
    await audit(tx, { actor, action: 'person.add', outcome: 'ok', details: { person: p.id, displayName: p.displayName, slack: p.slack ?? null, groups } });
    return (await findPerson(tx, p.id))!;
  });
}

/** Replaces a person's groups; unchanged groups are not a change and are not audited. */
export async function setGroups(db: Db, id: string, groups: string[], actor: string): Promise<Person> {
  const wanted = unique(parse(z.array(groupNameSchema), groups));
  return atomically(db, async (tx) => {
    const before = await lockPerson(tx, id);
    if (before.groups.join() === wanted.join()) return before;
    await tx.query('DELETE FROM person_groups WHERE person_id = $1 AND NOT (group_name = ANY($2::text[]))', [id, wanted]);
    await tx.query('INSERT INTO person_groups (group_name, person_id) SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING', [wanted, id]);
    await audit(tx, { actor, action: 'person.groups', outcome: 'ok', details: { person: id, from: before.groups, to: wanted } });
    return (await findPerson(tx, id))!;
  });
}

/** Disables a person and revokes their token; `changed` is false when they were disabled already. */
export async function disablePerson(db: Db, id: string, actor: string): Promise<{ person: Person; changed: boolean }> {
  return atomically(db, async (tx) => {
    const before = await lockPerson(tx, id);
    if (before.disabled) return { person: before, changed: false };
    if (before.groups.includes(ADMINS)) {
      const others = await tx.query("SELECT 1 FROM people p JOIN person_groups g ON g.person_id = p.id WHERE g.group_name = $1 AND p.disabled_at IS NULL AND p.id <> $2 LIMIT 1", [ADMINS, id]);
      if (!others.rowCount) throw new DirectoryError(`"${id}" is the last enabled admin; make someone else an admin first (factory people groups <id> admins)`);
    }
    await tx.query('UPDATE people SET disabled_at = now(), updated_at = now() WHERE id = $1', [id]);
    const revoked = await tx.query('UPDATE person_tokens SET revoked_at = now() WHERE person_id = $1 AND revoked_at IS NULL', [id]);
    await audit(tx, { actor, action: 'person.disable', outcome: 'ok', details: { person: id, tokenRevoked: revoked.rowCount === 1 } });
    return { person: { ...before, disabled: true }, changed: true };
  });
}

/** Enables a disabled person; their old token stays revoked, so they need a new one. */
export async function enablePerson(db: Db, id: string, actor: string): Promise<{ person: Person; changed: boolean }> {
  return atomically(db, async (tx) => {
    const before = await lockPerson(tx, id);
    if (!before.disabled) return { person: before, changed: false };
    await tx.query('UPDATE people SET disabled_at = NULL, updated_at = now() WHERE id = $1', [id]);
    await audit(tx, { actor, action: 'person.enable', outcome: 'ok', details: { person: id } });
    return { person: { ...before, disabled: false }, changed: true };
  });
}

/** A new CLI token for an enabled person, replacing any earlier one. The plaintext is returned here and never stored. */
export async function issueToken(db: Db, id: string, actor: string): Promise<string> {
  parse(personIdSchema, id);
  const token = newToken();
  // Hashed before the transaction, so the person's row is not held locked through scrypt.
  const hash = await hashSecret(token.secret);
  return atomically(db, async (tx) => {
    if ((await lockPerson(tx, id)).disabled) throw new DirectoryError(`person "${id}" is disabled; a disabled person gets no token`);
    const old = await tx.query<{ token_id: string }>('SELECT token_id FROM person_tokens WHERE person_id = $1', [id]);
    await tx.query(
      `INSERT INTO person_tokens (token_id, person_id, secret_hash) VALUES ($1, $2, $3)
       ON CONFLICT (person_id) DO UPDATE SET token_id = EXCLUDED.token_id, secret_hash = EXCLUDED.secret_hash, created_at = now(), revoked_at = NULL`,
      [token.tokenId, id, hash],
    );
    // Token ids are public (they only find the row), so the trail can say which token replaced which.
    await audit(tx, { actor, action: 'person.token', outcome: 'ok', details: { person: id, tokenId: token.tokenId, replaced: old.rows[0]?.token_id ?? null } });
    return token.token;
  });
}

/** The enabled person a token belongs to; anything else is an AuthenticationError. */
export async function authenticate(db: Db, token: string): Promise<Person> {
  const parsed = parseToken(token);
  if (!parsed) throw new AuthenticationError();
  const res = await db.query<{ person_id: string; secret_hash: string; revoked: boolean }>(
    'SELECT person_id, secret_hash, revoked_at IS NOT NULL AS revoked FROM person_tokens WHERE token_id = $1',
    [parsed.tokenId],
  );
  // The token id is public, so answering an unknown one sooner than a wrong secret gives nothing away.
  const row = res.rows[0];
  if (!row || !(await verifySecret(parsed.secret, row.secret_hash))) throw new AuthenticationError();
  const person = await findPerson(db, row.person_id);
  // Only the secret's holder gets this far, so naming the reason tells no one else anything.
  if (person?.disabled) throw new AuthenticationError(`person "${person.id}" is disabled`, person.id);
  if (!person || row.revoked) throw new AuthenticationError();
  return person;
}

/**
 * The enabled people an approval policy names, sorted and without repeats. A
 * reference is a person id or `group:<name>`; an unknown person is an error,
 * a disabled one (and an empty group) adds nobody.
 */
export async function resolveApprovers(db: Db, refs: string[]): Promise<string[]> {
  const ids: string[] = [];
  const groups: string[] = [];
  for (const ref of refs) {
    if (ref.startsWith('group:')) groups.push(parse(groupNameSchema, ref.slice('group:'.length)));
    else ids.push(parse(personIdSchema, ref));
  }
  const known = new Set((await db.query<{ id: string }>('SELECT id FROM people WHERE id = ANY($1::text[])', [ids])).rows.map((r) => r.id));
  const unknown = unique(ids.filter((id) => !known.has(id)));
  if (unknown.length) throw new DirectoryError(`unknown ${unknown.length === 1 ? 'person' : 'people'} ${unknown.map((id) => `"${id}"`).join(', ')} among the approvers`);
  const res = await db.query<{ id: string }>(
    `SELECT p.id FROM people p
      WHERE p.disabled_at IS NULL
        AND (p.id = ANY($1::text[]) OR EXISTS (SELECT 1 FROM person_groups g WHERE g.person_id = p.id AND g.group_name = ANY($2::text[])))`,
    [ids, groups],
  );
  return unique(res.rows.map((r) => r.id));
}
