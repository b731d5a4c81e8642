import { ApplicationFailure } from '@temporalio/activity';
import { assign, currentAssignments, EDGE_DEPLOYABLE, listDevices, sumTelemetry, versionForEdge } from '../db/edge';
import { audit, findModel } from '../db/models';
import { DirectoryError, resolveApprovers } from '../people/directory';
import { judgeDevice } from '../edge/device-health';
import type { EdgeDeviceState } from '../contracts/messages';
import type { edgeRolloutSchema, rolloutGuardSchema } from '../specs/model-spec';
import type { z } from 'zod';
import type { ActivityDeps } from './deps';

export interface EdgeDeploymentStart {
  deploymentId: number;
  /** The group's devices, in the order rings take them. */
  devices: string[];
  /** The version each device served before (0: none), for a rollback. */
  previous: Record<string, number>;
  policy: z.infer<typeof edgeRolloutSchema> & { guard: z.infer<typeof rolloutGuardSchema> };
  /** Who may pause, resume or abort it (the model's approvers), and the keys their signed assertions verify with. */
  operators: string[];
  publicKeys: Record<string, string>;
}

/** Edge rollout activities (control pool): the registry's side of edgeRolloutWorkflow. */
export function createEdgeActivities({ db, approvalKeys }: Pick<ActivityDeps, 'db' | 'approvalKeys'>) {
  return {
    /** Records the deployment (once per workflow: a retry finds it) and returns its devices, what they served, the policy and operators. */
    async beginEdgeDeployment(input: { model: string; version: number; group: string; rings: number[]; actor: string; workflowId: string }): Promise<EdgeDeploymentStart> {
      const model = await findModel(db, input.model);
      const v = await versionForEdge(db, input.model, input.version);
      if (!v) throw ApplicationFailure.nonRetryable(`${input.model} has no version ${input.version}`, 'UnknownVersion');
      if (!EDGE_DEPLOYABLE.includes(v.status)) throw ApplicationFailure.nonRetryable(`${input.model} v${input.version} is ${v.status}: only an approved version that was promoted (champion, or retired) goes to devices`, 'NotDeployable');
      const devices = (await listDevices(db, input.group)).filter((d) => !d.disabled).map((d) => d.id);
      if (devices.length === 0) throw ApplicationFailure.nonRetryable(`device group ${input.group} has no devices (factory edge device add <id> --group ${input.group})`, 'EmptyGroup');
      const row = await db.query<{ id: string }>(
        `INSERT INTO edge_deployments (model, version, group_name, rings, workflow_id, created_by) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (workflow_id) DO UPDATE SET workflow_id = EXCLUDED.workflow_id RETURNING id`,
        [input.model, input.version, input.group, input.rings, input.workflowId, input.actor],
      );
      const deploymentId = Number(row.rows[0].id);
      // What each device served before this deployment touched it: its newest assignment not of this deployment.
      const before = await db.query<{ device_id: string; version: number }>(
        `SELECT DISTINCT ON (device_id) device_id, version FROM edge_assignments
          WHERE device_id = ANY($1) AND model = $2 AND (deployment_id IS DISTINCT FROM $3) ORDER BY device_id, serial DESC`,
        [devices, input.model, deploymentId],
      );
      const previous = Object.fromEntries(devices.map((d) => [d, before.rows.find((r) => r.device_id === d)?.version ?? 0]));
      const operators = await resolveApprovers(db, model.spec.approval.approvers).catch((err) => (err instanceof DirectoryError ? [] : Promise.reject(err)));
      await audit(db, { actor: input.actor, action: 'edge.deploy', model: input.model, version: input.version, channel: 'cli', outcome: 'ok', details: { group: input.group, rings: input.rings, devices: devices.length, workflowId: input.workflowId } });
      return { deploymentId, devices, previous, policy: { ...model.spec.edge, guard: model.spec.rollout.guard }, operators, publicKeys: approvalKeys() };
    },

    /** Tells devices to serve a version (0: to serve none of the model); a device already told so by this deployment is left as it is. */
    async assignVersion(input: { deploymentId: number; model: string; versions: Record<string, number> }): Promise<void> {
      const byVersion = new Map<number, string[]>();
      for (const [device, version] of Object.entries(input.versions)) {
        const now = (await currentAssignments(db, device)).find((a) => a.model === input.model);
        const mine = now && (await db.query('SELECT 1 FROM edge_assignments WHERE device_id = $1 AND serial = $2 AND deployment_id = $3', [device, now.serial, input.deploymentId])).rowCount;
        if (now?.version === version && mine) continue;
        byVersion.set(version, [...(byVersion.get(version) ?? []), device]);
      }
      for (const [version, devices] of byVersion) await assign(db, devices, input.model, version, input.deploymentId);
    },

    /** Each device of a ring judged from its reports and telemetry since `since` (edge/device-health.ts). */
    async ringHealth(input: { model: string; version: number; devices: string[]; previous: Record<string, number>; since: string; guard: EdgeDeploymentStart['policy']['guard']; minRequests: number }): Promise<EdgeDeviceState[]> {
      const since = new Date(input.since);
      const rows = await db.query<{ id: string; last_seen_at: Date | null; last_report: { serving?: { model: string; version: number }[] } | null }>(
        'SELECT id, last_seen_at, last_report FROM edge_devices WHERE id = ANY($1)',
        [input.devices],
      );
      const errors = await db.query<{ actor: string; details: { reason: string } }>(
        "SELECT actor, details FROM audit_events WHERE action = 'edge.load-error' AND model = $1 AND version = $2 AND at >= $3 AND actor = ANY($4)",
        [input.model, input.version, since, input.devices.map((d) => `device:${d}`)],
      );
      return Promise.all(
        input.devices.map(async (device) => {
          const r = rows.rows.find((x) => x.id === device);
          const previous = input.previous[device];
          return judgeDevice(
            {
              device,
              reportedSince: r?.last_seen_at !== null && r?.last_seen_at !== undefined && r.last_seen_at >= since,
              serving: r?.last_report?.serving?.find((s) => s.model === input.model)?.version,
              loadError: errors.rows.find((e) => e.actor === `device:${device}`)?.details.reason,
              current: await sumTelemetry(db, { model: input.model, version: input.version, devices: [device], since }),
              previous: previous > 0 ? await sumTelemetry(db, { model: input.model, version: previous, devices: [device], since: new Date(since.getTime() - 24 * 3_600_000) }) : undefined,
            },
            input.version,
            input.guard,
            input.minRequests,
          );
        }),
      );
    },

    async finishEdgeDeployment(input: { deploymentId: number; model: string; version: number; status: 'completed' | 'rolled_back'; reason?: string; actor: string }): Promise<void> {
      await db.query("UPDATE edge_deployments SET status = $2, reason = $3, finished_at = now() WHERE id = $1 AND status = 'running'", [input.deploymentId, input.status, input.reason ?? null]);
      await audit(db, { actor: input.actor, action: `edge.${input.status === 'completed' ? 'deployed' : 'rolled-back'}`, model: input.model, version: input.version, channel: 'edge', outcome: input.status === 'completed' ? 'ok' : 'error', details: { deploymentId: input.deploymentId, reason: input.reason } });
    },
  };
}

export type EdgeActivities = ReturnType<typeof createEdgeActivities>;
