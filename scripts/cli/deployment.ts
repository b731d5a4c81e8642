import { audit } from '../../db/models';
import { describeDeployment, setCurrentBuild } from '../../workers/deployment';
import { asAdmin, CliError, type CliContext } from './context';

/** `factory deployment status`: the build new workflows start on, a ramp if any, and every build with what still runs on it. */
export async function deploymentStatus(ctx: CliContext): Promise<string> {
  const name = ctx.env.FACTORY_DEPLOYMENT;
  const state = await describeDeployment(ctx.client.workflowService, ctx.env.TEMPORAL_NAMESPACE, name);
  if (!state) return `deployment ${name}: no worker of it has polled yet`;
  return [
    `deployment ${name}`,
    `  current: ${state.current ?? 'none'}${state.ramping ? `   ramping: ${state.ramping.buildId} (${state.ramping.percent}%)` : ''}`,
    '  builds:',
    ...state.versions.map((v) => `    ${v.buildId.padEnd(24)} ${v.status}${v.drainage ? ` (${v.drainage})` : ''}`),
    '  pipelines and rollouts finish on the build they started on; keep its workers running until it says drained',
  ].join('\n');
}

/**
 * `factory deployment current <build>`: new pipelines and rollouts start on
 * that build, and the models' loops move to it; an admin's decision, audited.
 */
export async function makeCurrent(ctx: CliContext, buildId: string): Promise<string> {
  const deploymentName = ctx.env.FACTORY_DEPLOYMENT;
  return asAdmin(
    ctx,
    'deployment.current',
    { deployment: deploymentName, buildId },
    async (admin) => {
      const state = await describeDeployment(ctx.client.workflowService, ctx.env.TEMPORAL_NAMESPACE, deploymentName);
      if (!state?.versions.some((v) => v.buildId === buildId)) {
        throw new CliError(`build ${buildId} has no workers polling in deployment ${deploymentName}${state ? ` (builds: ${state.versions.map((v) => v.buildId).join(', ')})` : ''}; start its workers first`);
      }
      await setCurrentBuild(ctx.client.workflowService, ctx.env.TEMPORAL_NAMESPACE, { deploymentName, buildId }, `${admin.id} via factory cli`);
      await audit(ctx.db, { actor: admin.id, action: 'deployment.current', channel: 'cli', outcome: 'ok', details: { deployment: deploymentName, buildId, previous: state.current } });
      return `deployment ${deploymentName}: new workflows now start on ${buildId} (was ${state.current ?? 'none'})`;
    },
    'choose the build new workflows run on',
  );
}
