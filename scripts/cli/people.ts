import { credentialsFile } from '../../people/credentials';
import { addPerson, disablePerson, issueToken, listPeople, setGroups, type Person } from '../../people/directory';
import { asAdmin, CliError, type CliContext } from './context';

/** `T024BE7LD:U024BE7LH` as Slack's team and user ids. */
export function parseSlackRef(text: string): { teamId: string; userId: string } {
  const [teamId, userId, ...rest] = text.split(':');
  if (!teamId || !userId || rest.length) throw new CliError(`--slack "${text}" is not <TEAM_ID>:<USER_ID> (e.g. T024BE7LD:U024BE7LH)`);
  return { teamId, userId };
}

const describeSlack = (p: Person) => (p.slack ? `${p.slack.teamId}:${p.slack.userId}` : '-');

export async function peopleAdd(ctx: CliContext, id: string, opts: { name: string; slack?: string; group?: string[] }): Promise<string> {
  return asAdmin(ctx, 'person.add', { person: id }, async (admin) => {
    const slack = opts.slack === undefined ? undefined : parseSlackRef(opts.slack);
    const p = await addPerson(ctx.db, { id, displayName: opts.name, slack, groups: opts.group ?? [] }, admin.id);
    return [
      `added ${p.id} (${p.displayName}); slack ${describeSlack(p)}; groups ${p.groups.join(', ') || 'none'}`,
      `  their CLI token: factory people token ${p.id}`,
    ].join('\n');
  });
}

export async function peopleList(ctx: CliContext): Promise<string> {
  return asAdmin(ctx, 'person.list', {}, async () => {
    const people = await listPeople(ctx.db);
    if (people.length === 0) return 'no people in the directory (factory people add <id> --name <display name>)';
    const rows = [
      ['id', 'name', 'slack', 'groups', 'status'],
      ...people.map((p) => [p.id, p.displayName, describeSlack(p), p.groups.join(',') || '-', p.disabled ? 'disabled' : 'enabled']),
    ];
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ')).join('\n');
  });
}

export async function peopleDisable(ctx: CliContext, id: string): Promise<string> {
  return asAdmin(ctx, 'person.disable', { person: id }, async (admin) => {
    const { changed } = await disablePerson(ctx.db, id, admin.id);
    return changed ? `${id} is disabled; their token is revoked` : `${id} was already disabled`;
  });
}

/** Replaces a person's groups (none given: no groups). */
export async function peopleGroups(ctx: CliContext, id: string, groups: string[]): Promise<string> {
  return asAdmin(ctx, 'person.groups', { person: id, groups }, async (admin) => {
    const p = await setGroups(ctx.db, id, groups, admin.id);
    return `${p.id}: groups ${p.groups.join(', ') || 'none'}`;
  });
}

export async function peopleToken(ctx: CliContext, id: string): Promise<string> {
  return asAdmin(ctx, 'person.token', { person: id }, async (admin) => {
    const token = await issueToken(ctx.db, id, admin.id);
    return [
      `new CLI token for ${id} (any earlier one no longer works):`,
      `  ${token}`,
      'It is shown only now and stored only hashed. Give it to them privately; they keep it in',
      `FACTORY_TOKEN or in a file only they can read (chmod 600), by default ${credentialsFile(ctx.env)}.`,
    ].join('\n');
  });
}
