import fs from 'node:fs';
import { connections, dataPaths } from '../../config/env';
import { TASK_QUEUES } from '../../config/task-queues';
import { edgeRolloutStatusQuery, edgeRolloutWorkflowId, type EdgeRolloutStatus } from '../../contracts/messages';
import { addDevice, currentAssignments, EDGE_DEPLOYABLE, EdgeRegistryError, listDevices, versionForEdge } from '../../db/edge';
import { audit } from '../../db/models';
import { publicKeyFile } from '../../config/ed25519-key-file';
import { deviceIdSchema } from '../../edge/manifest';
import { DirectoryError, resolveApprovers } from '../../people/directory';
import type { edgeRolloutWorkflow } from '../../workflows/edge-rollout';
import { callApprovals, verifiedCaller } from './approvals-client';
import { asAdmin, callerOf, CliError, notAVersion, parseVersion, requireModel, type CliContext } from './context';

function checkId(what: string, text: string): string {
  const parsed = deviceIdSchema.safeParse(text);
  if (!parsed.success) throw new CliError(`${what} "${text}": ${parsed.error.issues[0].message}`);
  return parsed.data;
}

/** The factory's manifest key, as an agent must be given it: from the gateway, or the .pub file beside the key on this host. */
async function manifestPublicKey(ctx: CliContext): Promise<string | undefined> {
  const fromGateway = await fetch(`${connections(ctx.env).edgeGatewayUrl}/v1/edge/public-key`, { signal: AbortSignal.timeout(3000) })
    .then(async (r) => (r.ok ? ((await r.json()) as { publicKey: string }).publicKey : undefined))
    .catch(() => undefined);
  if (fromGateway) return fromGateway;
  const file = publicKeyFile(ctx.env.FACTORY_EDGE_KEY_FILE ?? dataPaths(ctx.env).edgeKey);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : undefined;
}

/** `factory edge device add <id> --group <g> [--label k=v]`: an admin registers a device; its token is shown this once. */
export async function edgeDeviceAdd(ctx: CliContext, id: string, opts: { group: string; label?: string[] }): Promise<string> {
  const device = checkId('device', id);
  const group = checkId('group', opts.group);
  const labels: Record<string, string> = {};
  for (const l of opts.label ?? []) {
    const m = /^([A-Za-z0-9_.-]{1,63})=(.{0,200})$/.exec(l);
    if (!m) throw new CliError(`--label "${l}" is not key=value`);
    labels[m[1]] = m[2];
  }
  return asAdmin(
    ctx,
    'edge.device.add',
    { device, group },
    async (admin) => {
      const token = await addDevice(ctx.db, { id: device, group, labels }, admin.id).catch((err) => Promise.reject(err instanceof EdgeRegistryError ? new CliError(err.message) : err));
      const key = await manifestPublicKey(ctx);
      return [
        `device ${device} registered in group ${group}${Object.keys(labels).length ? ` (${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(', ')})` : ''}`,
        `  its token (shown once; keep it on the device only): ${token}`,
        `  run on the device: FACTORY_EDGE_TOKEN=<token> factory-edge --device ${device} --gateway ${connections(ctx.env).edgeGatewayUrl} --dir /var/lib/factory-edge --public-key ${key ?? '<the gateway prints it at start>'}`,
      ].join('\n');
    },
    'register devices',
  );
}

export async function edgeDeviceList(ctx: CliContext, group?: string): Promise<string> {
  const devices = await listDevices(ctx.db, group);
  if (devices.length === 0) return `no devices${group ? ` in group ${group}` : ''} (factory edge device add <id> --group <group>)`;
  return devices
    .map((d) => {
      const serving = d.lastReport?.serving.map((s) => `${s.model} v${s.version}`).join(', ') || 'nothing';
      return `${d.id.padEnd(20)} ${d.group.padEnd(16)} ${d.disabled ? 'disabled' : `last seen ${d.lastSeenAt?.toISOString() ?? 'never'}`}  serves ${serving}`;
    })
    .join('\n');
}

/**
 * `factory edge deploy <model> <version> --group <g> [--rings 1,10,100]`: one of
 * the model's approvers, as their token proves, starts an edgeRolloutWorkflow.
 */
export async function edgeDeploy(ctx: CliContext, model: string, versionText: string, opts: { group: string; rings: string }): Promise<{ workflowId: string; text: string }> {
  const version = parseVersion(versionText);
  if (version === undefined) throw new CliError(notAVersion(versionText));
  const group = checkId('group', opts.group);
  const rings = opts.rings.split(',').map(Number);
  if (rings.some((r) => !Number.isInteger(r) || r < 1 || r > 100) || rings.some((r, i) => i > 0 && r <= rings[i - 1]) || rings.at(-1) !== 100) {
    throw new CliError(`--rings "${opts.rings}": rising percentages of the group, ending at 100 (e.g. 1,10,100)`);
  }
  const person = await callerOf(ctx, 'edge.deploy');
  const m = await requireModel(ctx, model, { action: 'edge.deploy', actor: person.id, version });
  const approvers: string[] = await resolveApprovers(ctx.db, m.spec.approval.approvers).catch((err) => (err instanceof DirectoryError ? [] : Promise.reject(err)));
  if (!approvers.includes(person.id)) {
    const reason = `"${person.id}" may not deploy ${model} (its approvers: ${approvers.join(', ') || 'nobody enabled'})`;
    await audit(ctx.db, { actor: person.id, action: 'edge.deploy', model, version, channel: 'cli', outcome: 'denied', details: { reason, group } });
    throw new CliError(reason);
  }
  const v = await versionForEdge(ctx.db, model, version);
  if (!v) throw new CliError(`${model} has no version ${version}`);
  if (!EDGE_DEPLOYABLE.includes(v.status)) throw new CliError(`${model} v${version} is ${v.status}: only an approved version that was promoted (champion, or retired) goes to devices`);
  const workflowId = edgeRolloutWorkflowId(model, version, group);
  await ctx.client.workflow.start<typeof edgeRolloutWorkflow>('edgeRolloutWorkflow', {
    workflowId,
    taskQueue: TASK_QUEUES.control,
    args: [{ model, version, group, rings, actor: person.id }],
  });
  return { workflowId, text: `${model} v${version} is rolling out to device group ${group} in rings ${rings.join('% → ')}%, as ${person.id}; watch: factory edge status ${model}` };
}

export function describeEdgeRollout(s: EdgeRolloutStatus): string {
  const rings = s.rings.map((r) => {
    const n = (state: string) => r.devices.filter((d) => d.state === state).length;
    return `    ${String(r.percent).padStart(3)}%  ${r.stage.padEnd(9)} ${n('done')} done, ${n('pending')} pending, ${n('failed')} failed`;
  });
  return [`  ${s.model} v${s.version} → ${s.group}: ${s.phase}${s.paused ? ' (paused)' : ''}`, ...rings, ...(s.reason ? [`    rolled back: ${s.reason}`] : [])].join('\n');
}

/** `factory edge status <model>`: each device's assignment and what it reports serving, and the model's edge rollouts. */
export async function edgeStatus(ctx: CliContext, model: string): Promise<string> {
  await requireModel(ctx, model, { action: 'edge.status' });
  const lines = [`${model} at the edge:`];
  const deployments = await ctx.db.query<{ workflow_id: string; group_name: string }>('SELECT workflow_id, group_name FROM edge_deployments WHERE model = $1 ORDER BY id DESC LIMIT 5', [model]);
  // A device of a group the model is deployed to is listed before its ring tells it anything.
  const groups = new Set(deployments.rows.map((r) => r.group_name));
  for (const d of await listDevices(ctx.db)) {
    const assigned = (await currentAssignments(ctx.db, d.id)).find((a) => a.model === model);
    if (!assigned && !groups.has(d.group)) continue;
    const serving = d.lastReport?.serving.find((s) => s.model === model);
    const told = assigned ? `told v${assigned.version} (manifest ${assigned.serial})` : 'not told yet';
    lines.push(`  ${d.id.padEnd(20)} ${d.group.padEnd(16)} ${told}, serves ${serving ? `v${serving.version}` : 'nothing yet'}, last seen ${d.lastSeenAt?.toISOString() ?? 'never'}`);
  }
  for (const { workflow_id } of deployments.rows) {
    const s = await ctx.client.workflow.getHandle(workflow_id).query(edgeRolloutStatusQuery).catch(() => undefined);
    if (s) lines.push(describeEdgeRollout(s));
  }
  return lines.join('\n');
}

/** pause / resume / abort an edge rollout as the person the token proves, through the approvals service. */
export async function steerEdgeRollout(ctx: CliContext, action: 'pause' | 'resume' | 'abort', model: string, versionText: string, opts: { group: string; reason?: string; as?: string }): Promise<EdgeRolloutStatus> {
  const version = parseVersion(versionText);
  if (version === undefined) throw new CliError(notAVersion(versionText));
  if (opts.as !== undefined) await verifiedCaller(ctx, opts.as);
  return callApprovals<EdgeRolloutStatus>(ctx, 'POST', '/v1/rollouts', { model, version, action, reason: opts.reason, group: checkId('group', opts.group) });
}
