#!/usr/bin/env node
import { Command } from 'commander';
import { loadEnv } from '../config/env';
import { ensureTool, TOOLS, type ToolName } from '../stack/tools';
import { decide, describeDecision } from './cli/approval';
import { ADMINS } from '../people/directory';
import { deploymentStatus, makeCurrent } from './cli/deployment';
import { describeEdgeRollout, edgeDeploy, edgeDeviceAdd, edgeDeviceList, edgeStatus, steerEdgeRollout } from './cli/edge';
import { callerOf, CliError, withContext } from './cli/context';
import { describeHistory, modelHistory } from './cli/history';
import { initSpec, type InitOptions } from './cli/init';
import { REPORT_LINK_SECONDS, reportLink } from './cli/report';
import { describeIngest, ingest } from './cli/ingest';
import { listModels, registerModel } from './cli/models';
import { describeRolloutStatus, followRollout, rolloutStatus, steerRollout } from './cli/rollout';
import { peopleAdd, peopleDisable, peopleGroups, peopleList, peopleToken } from './cli/people';
import { modelStatus } from './cli/status';
import { backfillSchedule, describeSchedule } from './cli/schedule';
import { parseDeadline, requestTraining, waitForStage } from './cli/train';
import { setupTemporalNamespace, up, type UpOptions } from './cli/up';
import { RESTING_STAGES } from '../contracts/messages';

const print = (s: string) => process.stdout.write(s + '\n');

function run(fn: (...args: any[]) => Promise<unknown>) {
  return async (...args: unknown[]) => {
    try {
      await fn(...args);
    } catch (err) {
      process.stderr.write(`error: ${err instanceof CliError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  };
}

const program = new Command('factory').description('AI Factory: train, evaluate, approve and promote models continuously.').showHelpAfterError();

program
  .command('up')
  .description('start Temporal, PostgreSQL, S3 and the worker pools; register the shipped models and take the first candidate to its approval gate')
  .option('--no-demo', 'only start the stack and workers')
  .option('--cluster', 'a Temporal cluster on PostgreSQL (frontend, history, matching and worker as processes, its own Web UI) instead of the dev server')
  .option('--mtls', 'with --cluster: mutual TLS on every connection, with certificates made under the data dir')
  .option('--workers <counts>', 'worker processes per pool, e.g. gpu=2,cpu=2,control=2 (default 1 each)')
  .action(run(async (opts: UpOptions) => up(loadEnv(), opts, print)));

program
  .command('temporal-setup')
  .description("register the namespace and the factory's search attributes on a Temporal cluster (docker-compose runs it once)")
  .action(run(async () => print(await setupTemporalNamespace(loadEnv()))));

program
  .command('install-tools')
  .description(`build the servers the stack needs (${Object.keys(TOOLS).join(', ')}) with go install, unless already present`)
  .option('--cluster', "also the Temporal cluster's (server, schema tool, UI server)")
  .action(run(async (opts: { cluster?: boolean }) => {
    for (const [name, tool] of Object.entries(TOOLS) as [ToolName, (typeof TOOLS)[ToolName]][]) {
      if (!('cluster' in tool) || opts.cluster) print(`${name}: ${await ensureTool(name)}`);
    }
  }));

program
  .command('init <file>')
  .description('draft a commented model spec for a CSV file (comma or semicolon, with a header): types, categories, id, time and label read from the data, leaks left out')
  .option('--label <column>', 'the column to predict (default: the last one)')
  .option('--task <task>', 'binary-classification, multiclass-classification or regression (default: inferred from the label)')
  .option('--time <column>', 'the column that says when each row happened (default: a column of dates, if there is one)')
  .option('--name <name>', 'the model name (default: from the file name)')
  .option('--out <file>', 'where to write the spec (default: <name>.yaml)')
  .option('--force', 'replace the output file if it exists')
  .action(run(async (file: string, opts: InitOptions) => print((await initSpec(file, opts)).text)));

program
  .command('report <model> [version]')
  .description("a link to a version's evaluation report (the latest evaluated version's without one), signed now and valid for a day")
  .action(run((model: string, version?: string) => withContext(async (ctx) => {
    const r = await reportLink(ctx, model, version === undefined ? undefined : Number(version));
    print(`${model} v${r.version} evaluation report (valid ${REPORT_LINK_SECONDS / 3600}h): ${r.url}`);
  })));

program
  .command('register <spec>')
  .description('register a model from its YAML spec, or update it (as the person your token proves: the spec\'s history records who)')
  .action(run((spec: string) => withContext(async (ctx) => {
    const me = await callerOf(ctx, 'model.register');
    print(await registerModel(ctx, spec, me.id, { mayChangeApproval: me.groups.includes(ADMINS) }));
  })));

program.command('models').description('list registered models').action(run(() => withContext(async (ctx) => print(await listModels(ctx)))));

program
  .command('history <model>')
  .description("a model's lineage and audit trail: who decided what, when, via which channel, on which figures; refusals included")
  .option('--json', 'print it as JSON, for scripts')
  .action(run((model: string, opts: { json?: boolean }) => withContext(async (ctx) => {
    const h = await modelHistory(ctx, model);
    print(opts.json ? JSON.stringify(h, null, 2) : describeHistory(h));
  })));

program
  .command('status <model>')
  .description("a model's champion with its lineage, its versions, data and running pipelines")
  .action(run((model: string) => withContext(async (ctx) => print(await modelStatus(ctx, model)))));

program
  .command('ingest <model> <file>')
  .description('validate a batch (CSV or Parquet) and add it to the model\'s data, or quarantine it whole')
  .action(run((model: string, file: string) => withContext(async (ctx) => {
    const result = await ingest(ctx, model, file);
    print(describeIngest(model, file, result));
    if (result.status === 'quarantined') process.exitCode = 2;
  })));

program
  .command('train <model>')
  .description('request a training pipeline (coalesced with one already running)')
  .option('--wait', 'wait until the candidate reaches the approval gate or is rejected by policy')
  .option('--reason <text>', 'why, recorded with the pipeline')
  .option('--deadline <when>', 'finish by then ("8h" or an ISO time): training waits for the cheapest energy window before it')
  .option('--max-price <perMWh>', 'with --deadline: start at the first window averaging at most this price')
  .action(run((model: string, opts: { wait?: boolean; reason?: string; deadline?: string; maxPrice?: string }) => withContext(async (ctx) => {
    const maxPricePerMWh = opts.maxPrice === undefined ? undefined : Number(opts.maxPrice);
    if (maxPricePerMWh !== undefined && !Number.isFinite(maxPricePerMWh)) throw new CliError(`--max-price "${opts.maxPrice}" is not a number`);
    if (maxPricePerMWh !== undefined && !opts.deadline) throw new CliError('--max-price needs a --deadline');
    const deadline = opts.deadline ? parseDeadline(opts.deadline) : undefined;
    const { id } = await callerOf(ctx, 'pipeline.request');
    const state = await requestTraining(ctx, model, { reason: 'manual', requestedBy: id, detail: opts.reason, deadline, maxPricePerMWh });
    print(state.queued ? `${model}: a pipeline is running (${state.running}); this request is queued as its follow-up` : `${model}: pipeline requested`);
    if (!opts.wait) return;
    const { workflowId, status } = await waitForStage(ctx, model, RESTING_STAGES, 30 * 60_000, (s) => print(`  ${s.stage}`));
    print(`${workflowId}: ${status.stage}${status.version ? ` v${status.version}` : ''}${status.verdict && !status.verdict.passed ? ` (${status.verdict.failures.join('; ')})` : ''}`);
  })));

for (const verdict of ['approve', 'reject'] as const) {
  program
    .command(`${verdict} <model> <version>`)
    .description(`${verdict} a candidate awaiting approval, as the person your token (FACTORY_TOKEN or the credentials file) proves`)
    .option('--as <id>', 'check that your token is this person\'s before deciding')
    .option('--comment <text>', 'recorded in the audit trail')
    .option('--no-follow', 'return once the decision is taken, without following the rollout')
    .action(run((model: string, version: string, opts: { as?: string; comment?: string; follow: boolean }) =>
      withContext(async (ctx) => {
        const result = await decide(ctx, verdict, model, version, { comment: opts.comment, as: opts.as }, 0);
        print(describeDecision(result));
        if (result.answer.decision?.decision !== 'approved' || !opts.follow) return;
        const outcome = await followRollout(ctx, model, result.version, result.pipelineId, print);
        print(describeDecision({ ...result, outcome }));
      }),
    ));
}

const schedule = program.command('schedule').description("a model's retrain schedule (Temporal Schedule, from triggers.schedule in its spec)");
schedule.command('show <model>').action(run((model: string) => withContext(async (ctx) => print(await describeSchedule(ctx, model)))));
schedule
  .command('backfill <model>')
  .description('run the schedule for the times it would have fired in a past interval')
  .requiredOption('--from <time>', 'start (ISO time)')
  .requiredOption('--to <time>', 'end (ISO time)')
  .action(run((model: string, opts: { from: string; to: string }) => withContext(async (ctx) => print(await backfillSchedule(ctx, model, opts.from, opts.to)))));

const rollout = program.command('rollout').description('watch or steer a rollout (shadow, canary, full)');
rollout
  .command('status <model> <version>')
  .action(run((model: string, version: string) => withContext(async (ctx) => print(describeRolloutStatus(await rolloutStatus(ctx, model, version))))));
for (const action of ['pause', 'resume', 'abort'] as const) {
  rollout
    .command(`${action} <model> <version>`)
    .description(action === 'abort' ? 'stop the rollout and roll back: the champion keeps serving' : `${action} the rollout's progress (the guard keeps watching)`)
    .option('--as <id>', 'check that your token is this person\'s (one of the model\'s approvers)')
    .option('--reason <text>', 'recorded with the rollout and in the audit trail')
    .action(run((model: string, version: string, opts: { as?: string; reason?: string }) =>
      withContext(async (ctx) => print(describeRolloutStatus(await steerRollout(ctx, action, model, version, opts)))),
    ));
}

const edge = program.command('edge').description('models on devices: the device registry, signed deployments ring by ring, and what devices report');
const edgeDevice = edge.command('device').description('the devices the edge gateway serves');
edgeDevice
  .command('add <id>')
  .description('register a device in a group (admins only); prints its token once')
  .requiredOption('--group <group>', 'its device group, e.g. plant-berlin')
  .option('--label <key=value...>', 'labels, e.g. line=3')
  .action(run((id: string, opts: { group: string; label?: string[] }) => withContext(async (ctx) => print(await edgeDeviceAdd(ctx, id, opts)))));
edgeDevice
  .command('list')
  .option('--group <group>', 'only this group')
  .action(run((opts: { group?: string }) => withContext(async (ctx) => print(await edgeDeviceList(ctx, opts.group)))));
edge
  .command('deploy <model> <version>')
  .description("roll a version out to a device group ring by ring (the model's approvers)")
  .requiredOption('--group <group>', 'the device group')
  .option('--rings <percents>', 'cumulative share of the group per ring', '1,10,100')
  .action(run((model: string, version: string, opts: { group: string; rings: string }) => withContext(async (ctx) => print((await edgeDeploy(ctx, model, version, opts)).text))));
edge
  .command('status <model>')
  .description("each device's assigned and served version, and the model's edge rollouts")
  .action(run((model: string) => withContext(async (ctx) => print(await edgeStatus(ctx, model)))));
for (const action of ['pause', 'resume', 'abort'] as const) {
  edge
    .command(`${action} <model> <version>`)
    .description(action === 'abort' ? 'stop the edge rollout and roll its devices back' : `${action} the edge rollout`)
    .requiredOption('--group <group>', 'the device group it rolls out to')
    .option('--as <id>', "check that your token is this person's")
    .option('--reason <text>', 'recorded with the rollout and in the audit trail')
    .action(run((model: string, version: string, opts: { group: string; as?: string; reason?: string }) =>
      withContext(async (ctx) => print(describeEdgeRollout(await steerEdgeRollout(ctx, action, model, version, opts)))),
    ));
}

const deployment = program.command('deployment').description('the worker builds of this factory (Temporal Worker Deployments): which one new pipelines start on');
deployment.command('status').description('the current build, a ramp, and every build with what still runs on it').action(run(() => withContext(async (ctx) => print(await deploymentStatus(ctx)))));
deployment
  .command('current <build>')
  .description('start new pipelines and rollouts on this build (admins only); running ones finish on theirs')
  .action(run((build: string) => withContext(async (ctx) => print(await makeCurrent(ctx, build)))));

const people = program.command('people').description('the directory of people who decide, their groups and CLI tokens (admins only)');
people
  .command('add <id>')
  .description('add a person (id: lowercase letters, digits, ".", "_", "-")')
  .requiredOption('--name <display>', 'display name')
  .option('--slack <TEAM_ID:USER_ID>', 'their Slack team and user ids (not a display name)')
  .option('--group <group...>', 'groups an approval policy can name as group:<name>')
  .action(run((id: string, opts: { name: string; slack?: string; group?: string[] }) => withContext(async (ctx) => print(await peopleAdd(ctx, id, opts)))));
people.command('list').description('everyone, with Slack ids, groups and status').action(run(() => withContext(async (ctx) => print(await peopleList(ctx)))));
people
  .command('disable <id>')
  .description('disable a person and revoke their token')
  .action(run((id: string) => withContext(async (ctx) => print(await peopleDisable(ctx, id)))));
people
  .command('groups <id> [groups...]')
  .description("replace a person's groups (none given: no groups)")
  .action(run((id: string, groups: string[]) => withContext(async (ctx) => print(await peopleGroups(ctx, id, groups)))));
people
  .command('token <id>')
  .description('issue a new CLI token for a person, replacing any earlier one; it is printed once')
  .action(run((id: string) => withContext(async (ctx) => print(await peopleToken(ctx, id)))));

program.parseAsync(process.argv);
