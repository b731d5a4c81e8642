import { z } from 'zod';
import { CRITERION_NAMES, measuredFor, TASK_METRICS } from '../ml/criteria';
import { DURATION } from './duration';
import { labelColumn } from './label';
import { MAX_THREADS } from '../ml/gbdt/limits';

/** A duration Temporal understands ("90s", "15m", "72h", "7d"). */
export const durationSchema = z
  .string()
  .regex(DURATION, 'must be a duration such as "90s", "15m", "72h" or "7d"');

/** A category value as a spec names it: a code (an integer) or a string, as the data holds it. */
const categoryValueSchema = z.union([z.number().int(), z.string().trim().min(1, 'a category value must not be empty (an empty cell is a missing value)')]);

export const featureSchema = z
  .object({
    name: z.string().min(1),
    /** integer/number are scored as they are; a category has a closed set of values, integer codes or strings. */
    type: z.enum(['integer', 'number', 'category']),
    min: z.number().optional(),
    max: z.number().optional(),
    /** The values of a category: all integers or all strings. Their order fixes their codes: add new values at the end. */
    values: z.array(categoryValueSchema).optional(),
    /** A category value not listed: a data error (error), or counted in one "other" bucket the model learns too (other). */
    unknown: z.enum(['error', 'other']).optional(),
    description: z.string().optional(),
  })
  .strict()
  .refine((f) => f.min === undefined || f.max === undefined || f.min <= f.max, {
    message: 'min must not exceed max',
  })
  .refine((f) => f.type !== 'category' || (f.values?.length ?? 0) > 0, {
    message: 'a category feature needs its allowed values',
  })
  .refine((f) => f.type === 'category' || (f.values === undefined && f.unknown === undefined), {
    message: 'values and unknown belong to category features',
  })
  .refine((f) => new Set((f.values ?? []).map((v) => typeof v)).size <= 1, {
    message: 'category values must be all integers or all strings',
    path: ['values'],
  })
  .refine((f) => new Set(f.values ?? []).size === (f.values ?? []).length, {
    message: 'a category value is listed twice',
    path: ['values'],
  })
  .refine((f) => f.type !== 'category' || typeof f.values?.[0] !== 'string' || (f.min === undefined && f.max === undefined), {
    message: 'a string category has no min or max',
  });

const linearParams = {
  l2: z.number().min(0).default(1),
  maxIterations: z.number().int().min(1).max(1000).default(50),
  tolerance: z.number().positive().default(1e-8),
};

/**
 * The linear family (ml/linear.ts): logistic regression for binary models,
 * multinomial for multiclass, ridge for regression, on standardised numbers
 * and one-hot categories. `logistic-regression` is its binary name.
 */
export const linearSchema = z.object({ kind: z.literal('linear'), ...linearParams }).strict();
export const logisticRegressionSchema = z.object({ kind: z.literal('logistic-regression'), ...linearParams }).strict();

export const gbdtSchema = z
  .object({
    kind: z.literal('gbdt'),
    trees: z.number().int().min(1).max(10_000).default(200),
    learningRate: z.number().gt(0).max(1).default(0.1),
    maxDepth: z.number().int().min(1).max(16).default(6),
    /** Leaf-limited growth; defaults to 2^maxDepth (depth-limited). */
    maxLeaves: z.number().int().min(2).max(65_536).optional(),
    maxBins: z.number().int().min(2).max(255).default(255),
    lambda: z.number().min(0).default(1),
    minChildWeight: z.number().min(0).default(1),
    minSplitGain: z.number().min(0).default(0),
    subsample: z.number().gt(0).max(1).default(1),
    colsample: z.number().gt(0).max(1).default(1),
    /** Stop when validation log loss has not improved for this many trees; 0 disables. */
    earlyStoppingRounds: z.number().int().min(0).default(20),
    seed: z.number().int().default(7),
    /** Threads each tree is grown with; the model is the same bytes for any number (ml/gbdt/share.ts). */
    threads: z.number().int().min(1).max(MAX_THREADS).default(1),
  })
  .strict();

/**
 * Any program that trains and writes an ONNX model (a PyTorch script on a GPU
 * host, say). It is given the split data and an output path in its environment
 * (FACTORY_TRAIN_CSV, FACTORY_VALIDATION_CSV, FACTORY_OUTPUT_ONNX, FACTORY_FEATURES,
 * FACTORY_LABEL, and FACTORY_SCHEMA_JSON: the task, the label as the spec
 * gives it (classes, positive value or objective) and the features with their
 * types and category values, for the ONNX contract in ml/trainer.ts); lines "PROGRESS <step> <total> [message]" on its stdout are
 * heartbeated, a line "METRICS {json}" is recorded, and all output is logged.
 */
export const commandTrainerSchema = z
  .object({
    kind: z.literal('command'),
    command: z.array(z.string().min(1)).min(1, 'give the program and its arguments, e.g. [python3, train.py]'),
    /** Working directory, relative to the repository root unless absolute. */
    cwd: z.string().optional(),
    /**
     * The program's own variables. A secret is named, never written here:
     * `{ secret: HF_TOKEN }` is resolved on the training worker from its
     * FACTORY_SECRET_HF_TOKEN, so the value reaches no spec row, history or log.
     */
    env: z
      .record(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'),
        z.union([z.string(), z.object({ secret: z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be a secret name (A-Z, 0-9, _)') }).strict()]),
      )
      .default({}),
    timeout: durationSchema.default('4h'),
  })
  .strict();

/** Trainers are a discriminated union so the next one slots in with its own params. */
export const trainerSchema = z.discriminatedUnion('kind', [logisticRegressionSchema, linearSchema, gbdtSchema, commandTrainerSchema]);

export const metricNameSchema = z.enum(CRITERION_NAMES);

export const policySchema = z
  .object({
    /** Decision threshold on the predicted probability (precision, recall, F1, fairness rates). */
    threshold: z.number().gt(0).lt(1).default(0.5),
    /** Absolute limits: a minimum where higher is better, a maximum where lower is better. */
    floors: z.partialRecord(metricNameSchema, z.number()).prefault({}),
    /** How much worse than the champion a candidate may be (non-inferiority), in the metric's units. */
    margins: z.partialRecord(metricNameSchema, z.number().min(0)).prefault({}),
    /** Criteria on these metrics only warn: a failure is shown, but does not block. */
    advisory: z.array(metricNameSchema).default([]),
    /** A candidate that fails a hard criterion is rejected, or reaches the approval gate flagged. */
    onFail: z.enum(['reject', 'flag']).default('reject'),
  })
  .strict();

/** A protected attribute: a category feature's codes are its groups; a numeric one needs bands. */
export const protectedAttributeSchema = z.union([
  z.string().min(1).transform((feature) => ({ feature, bands: undefined as number[] | undefined })),
  z
    .object({
      feature: z.string().min(1),
      /** Ascending cut points: [30, 40] gives the groups <30, 30-39 and >=40. Category features need none. */
      bands: z.array(z.number()).min(1).refine((b) => b.every((v, i) => i === 0 || v > b[i - 1]), 'bands must ascend').optional(),
    })
    .strict(),
]);

export const fairnessSchema = z
  .object({
    /** Groups with fewer held-out rows than this are reported as too small to measure, not scored. */
    minGroupSize: z.number().int().min(1).default(100),
  })
  .strict();

/** A person in the factory's directory (factory people add), or every enabled member of a group as `group:<name>`. */
const approverSchema = z.string().regex(/^(group:)?[a-z][a-z0-9._-]{0,62}$/, 'must be a factory identity (e.g. "alice") or a group ("group:risk-officers")');

export const approvalSchema = z
  .object({
    approvers: z.array(approverSchema).min(1, 'at least one approver is required'),
    /** Distinct approvers who must approve; any one rejection rejects. */
    required: z.number().int().min(1).default(1),
    /** Segregation of duties: whoever requested the training or last changed this spec may not approve it. */
    independent: z.boolean().default(false),
    timeout: durationSchema.default('72h'),
    /** reject: an unanswered request expires (rejected) at the timeout; escalate: escalated once, then expires after another timeout. */
    onTimeout: z.enum(['reject', 'escalate']).default('reject'),
    /** A candidate still awaiting approval is rejected as superseded when a newer trigger asks for a retrain. */
    supersede: z.boolean().default(false),
    /** Where the approval card is posted (a channel id or #name), and who hears of an escalation. */
    slack: z.object({ channel: z.string().min(1), escalationChannel: z.string().min(1).optional() }).strict().optional(),
  })
  .strict()
  .refine((a) => a.approvers.some((r) => r.startsWith('group:')) || a.required <= a.approvers.length, {
    message: 'required is more than the approvers named: the candidate could never be approved',
    path: ['required'],
  });

/** What a rollout's guard tolerates from the candidate, compared with the version serving beside it. */
export const rolloutGuardSchema = z
  .object({
    /** Share of failed scorings above which the candidate is rolled back (when also worse than the champion's). */
    maxErrorRate: z.number().min(0).max(1).default(0.01),
    /** Candidate p99 scoring latency may be at most this multiple of the champion's... */
    maxP99Ratio: z.number().gt(1).default(2),
    /** ...unless it stays within this many milliseconds of it (sub-millisecond p99s jitter by multiples). */
    p99SlackMs: z.number().min(0).default(5),
    /** Population stability index between the two versions' score distributions. */
    maxScorePsi: z.number().gt(0).default(0.25),
  })
  .strict();

export const rolloutSchema = z
  .object({
    /** How long the candidate scores a copy of live traffic; "0s" skips shadowing. */
    shadow: durationSchema.default('2m'),
    /**
     * Share of requests whose copy the candidate scores in the shadow phase. Copies are scored in batches when the
     * champion has nothing queued, off the answers' path; a low-traffic model needs a larger share (or a longer
     * shadow) to reach minRequests.
     */
    shadowSample: z.number().gt(0).max(1).default(0.25),
    /** Share of live requests the candidate answers during the canary. */
    canaryPercent: z.number().gt(0).lt(100).default(10),
    /** Canary bake time, on durable timers; paused time does not count. */
    bake: durationSchema.default('10m'),
    /** After full traffic the new champion is still compared with the old one's canary-time figures. */
    watch: durationSchema.default('5m'),
    /** How often the guard reads the prediction log. */
    checkEvery: durationSchema.default('30s'),
    /**
     * A phase ends only once each version has answered this many requests in it
     * (no evidence, no promotion); the score PSI is judged from this many scores on.
     */
    minRequests: z.number().int().min(50, 'at least 50: a score distribution needs a few per bin').default(500),
    guard: rolloutGuardSchema.prefault({}),
    /** A replica silent for this long is taken as gone and no longer awaited. */
    replicaTimeout: durationSchema.default('15s'),
    /** A rollout still short of minRequests this long after it started (pauses included) ends: a model nobody calls never gets its evidence. */
    maxDuration: durationSchema.default('24h'),
    /** How such a rollout ends: rolled back as "not enough evidence", or promoted (only where a spec says so). */
    onNoEvidence: z.enum(['roll-back', 'promote']).default('roll-back'),
  })
  .strict();

/**
 * Edge rollouts (edgeRolloutWorkflow): ring by ring over a device group, each
 * ring's devices reporting the new version loaded and healthy (by the rollout
 * guard's limits) before a bake on durable timers; offline devices are pending,
 * not failed, up to a share; above a share of failed devices the rollout rolls
 * back with new manifests naming the previous version.
 */
export const edgeRolloutSchema = z
  .object({
    /** How long each ring bakes once its devices are healthy; paused time does not count. */
    bake: durationSchema.default('10m'),
    /** How often device reports are read. */
    checkEvery: durationSchema.default('30s'),
    /** A ring may move on with at most this share of its devices not yet reporting (offline). */
    maxPendingShare: z.number().min(0).max(1).default(0.1),
    /** Above this share of a ring's devices failing (load errors, guard breaches), the rollout rolls back. */
    maxFailedShare: z.number().min(0).max(1).default(0.1),
    /** A device's telemetry is judged by the guard only from this many requests of the new version on. */
    minRequests: z.number().int().min(1).default(50),
  })
  .strict();

/** Five cron fields (minute hour day-of-month month day-of-week), as Temporal Schedules read them. */
const CRON = /^\s*(\S+\s+){4}\S+\s*$/;

const timeZoneSchema = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'not a known IANA time zone (e.g. "Europe/Berlin", "UTC")');

/** A Temporal Schedule: every N (interval) or a cron expression, in a time zone, with jitter. */
export const scheduleSchema = z
  .object({
    every: durationSchema.optional(),
    cron: z.string().regex(CRON, 'must be five cron fields, e.g. "0 3 * * 1" (03:00 on Mondays)').optional(),
    timezone: timeZoneSchema.default('UTC'),
    /** Random delay added to each run so many models do not start at the same second. */
    jitter: durationSchema.default('0s'),
  })
  .strict()
  .refine((s) => (s.every === undefined) !== (s.cron === undefined), 'give exactly one of "every" or "cron"');

export const driftTriggerSchema = z
  .object({
    /** How often the monitor compares recent predictions with the champion's training snapshot. */
    every: durationSchema.default('1h'),
    /**
     * The recent window: predictions answered by the champion in this much time
     * (of data time, ending at the time of the row served last, for a model with a time column
     * whose clients send it; of serving time otherwise)...
     */
    window: durationSchema.default('24h'),
    /** ...of which at least this many, or the check is skipped as inconclusive. */
    minRows: z.number().int().min(50).default(500),
    /** PSI at or above which a feature (or the score) counts as drifted. */
    psiThreshold: z.number().gt(0).default(0.25),
    /** Live AUC (logged predictions joined with labels that arrived later) below this retrains too. */
    minLiveAuc: z.number().gt(0.5).lt(1).optional(),
    /** Regression: live RMSE (predicted values against labels that arrived later) above this retrains too. */
    maxLiveRmse: z.number().gt(0).optional(),
    /** Multiclass: live accuracy of the predicted classes below this retrains too. */
    minLiveAccuracy: z.number().gt(0).lt(1).optional(),
    /** Labelled predictions needed before a live metric is judged. */
    minLabelled: z.number().int().min(50).default(300),
  })
  .strict();

export const energySchema = z
  .object({
    /** Automatic retrains (schedule, rows, drift) must finish within this; they wait for the cheapest window before it. */
    deadline: durationSchema,
    /** Start at the first window whose average price is at most this (per MWh), rather than the cheapest. */
    maxPricePerMWh: z.number().optional(),
  })
  .strict();

/** What starts a retrain besides a person: time, data, drift. Each is optional. */
export const triggersSchema = z
  .object({
    schedule: scheduleSchema.optional(),
    /** Accepted labelled rows since the champion's snapshot that start a retrain. */
    rows: z.number().int().min(1, 'a row threshold must be at least 1 (leave it out to retrain on data volume never)').optional(),
    drift: driftTriggerSchema.optional(),
    energy: energySchema.optional(),
  })
  .strict();

export const splitSchema = z
  .object({
    seed: z.number().int().default(42),
    test: z.number().gt(0).lt(0.5).default(0.2),
    validation: z.number().min(0).lt(0.5).default(0.1),
  })
  .strict();

export const TASKS = ['binary-classification', 'multiclass-classification', 'regression'] as const;
export type Task = (typeof TASKS)[number];

/**
 * The label: a column name, or an object naming the column and what its
 * values mean for the task. Binary: a column of 0s and 1s, or the value that
 * is positive (`positive: "yes"`; every other value is a negative). Multiclass:
 * the classes in a fixed order (`classes: [low, medium, high]`; add new ones
 * at the end). Regression: a numeric column, with an objective (squared-error,
 * or poisson for counts). A number matches a cell of equal value ("1.0" for 1),
 * a string matches the trimmed cell exactly.
 */
export const labelSchema = z.union(
  [
    z.string().min(1),
    z
      .object({
        column: z.string().min(1),
        positive: z.union([z.string().trim().min(1), z.number()], { error: 'give the positive value, a string or a number (e.g. positive: "yes")' }).optional(),
        classes: z.array(categoryValueSchema).min(2, 'a multiclass label needs at least two classes').optional(),
        objective: z.enum(['squared-error', 'poisson']).optional(),
      })
      .strict(),
  ],
  { error: 'give the label column (label: y) or the column and its positive value (label: { column: y, positive: "yes" })' },
);

/** The row key column of the canonical CSV and snapshots of a model without an id column; no feature or label may take it. */
export const CONTENT_ID_COLUMN = '__row_hash';

/** A model's name: it becomes part of workflow ids, S3 keys and URLs. */
export const modelNameSchema = z.string().regex(/^[a-z][a-z0-9-]{1,62}$/, 'must be lowercase letters, digits and dashes, starting with a letter');

export const modelSpecSchema = z
  .object({
    name: modelNameSchema,
    description: z.string().default(''),
    task: z.enum(TASKS, { error: `must be one of ${TASKS.join(', ')}` }),
    /**
     * Unique row key; used for reproducible splits and de-duplication. Without
     * one, a row is identified by its content (contentId in specs/data-batch.ts).
     */
    idColumn: z.string().min(1).optional(),
    /**
     * When each row happened (a date, 2012-10-01, or an ISO timestamp; UTC
     * unless it names a zone). With one, splits are time-ordered: the model
     * trains on the past and is validated and tested on the most recent rows.
     */
    timeColumn: z.string().min(1).optional(),
    label: labelSchema,
    features: z.array(featureSchema).min(1),
    protectedAttributes: z.array(protectedAttributeSchema).default([]),
    fairness: fairnessSchema.prefault({}),
    trainer: trainerSchema,
    policy: policySchema.prefault({}),
    approval: approvalSchema,
    rollout: rolloutSchema.prefault({}),
    /** How a version goes out to devices (factory edge deploy): rings, bakes and failure limits. */
    edge: edgeRolloutSchema.prefault({}),
    triggers: triggersSchema.prefault({}),
    split: splitSchema.prefault({}),
    /** How a new batch is checked against the latest snapshot's column statistics (activities/data.ts). */
    validation: z
      .object({
        /** allow: an empty feature cell is a missing value (gbdt learns where it goes); refuse: it is a row error. */
        missingValues: z.enum(['refuse', 'allow']).default('refuse'),
        /** How far a column's share of missing values may rise above the snapshot's: 0.2 is 20 percentage points. */
        maxMissingRateIncrease: z.number().min(0).max(1).default(0.2),
        /** Share of a column's values outside the snapshot's [min, max] that quarantines the batch; unset, not checked. */
        maxOutOfRangeShare: z.number().gt(0).max(1).optional(),
        /**
         * A batch with more than this many times the rows of the model's median accepted batch (once there
         * are three) is quarantined: a feed that repeats itself or an export of the wrong table. 0: not checked.
         */
        maxBatchGrowth: z.number().min(0).default(10),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const names = new Set<string>();
    spec.features.forEach((f, i) => {
      if (names.has(f.name)) ctx.addIssue({ code: 'custom', path: ['features', i, 'name'], message: `duplicate feature "${f.name}"` });
      names.add(f.name);
    });
    const label = labelColumn(spec);
    if (names.has(label)) ctx.addIssue({ code: 'custom', path: ['label'], message: 'the label must not also be a feature' });
    if (spec.timeColumn !== undefined && (names.has(spec.timeColumn) || spec.timeColumn === label || spec.timeColumn === spec.idColumn)) {
      ctx.addIssue({ code: 'custom', path: ['timeColumn'], message: 'the time column must not also be the id, the label or a feature' });
    }
    for (const issue of labelIssues(spec.task, spec.label)) ctx.addIssue({ code: 'custom', ...issue });
    for (const part of ['floors', 'margins'] as const) {
      for (const metric of Object.keys(spec.policy[part]) as MetricName[]) {
        if (!measuredFor(spec.task, metric)) ctx.addIssue({ code: 'custom', path: ['policy', part, metric], message: `is not measured for a ${spec.task} model (it measures ${TASK_METRICS[spec.task].join(', ')})` });
      }
    }
    if (spec.trainer.kind === 'logistic-regression' && spec.task !== 'binary-classification') {
      ctx.addIssue({ code: 'custom', path: ['trainer', 'kind'], message: `logistic-regression trains binary-classification models; a ${spec.task} model takes kind: linear (its family: ${spec.task === 'regression' ? 'ridge regression' : 'multinomial logistic regression'}), gbdt or a command trainer` });
    }
    const drift = spec.triggers.drift;
    const live = { minLiveAuc: 'binary-classification', maxLiveRmse: 'regression', minLiveAccuracy: 'multiclass-classification' } as const;
    for (const [key, task] of Object.entries(live) as [keyof typeof live, Task][]) {
      if (drift?.[key] !== undefined && spec.task !== task) ctx.addIssue({ code: 'custom', path: ['triggers', 'drift', key], message: `is measured for ${task} models, not ${spec.task} ones` });
    }
    spec.policy.advisory.forEach((metric, i) => {
      if (!measuredFor(spec.task, metric)) ctx.addIssue({ code: 'custom', path: ['policy', 'advisory', i], message: `${metric} is not measured for a ${spec.task} model` });
    });
    if (spec.idColumn === undefined && (names.has(CONTENT_ID_COLUMN) || label === CONTENT_ID_COLUMN)) {
      ctx.addIssue({ code: 'custom', path: ['idColumn'], message: `without an id column "${CONTENT_ID_COLUMN}" holds each row's content hash: rename the column that has that name` });
    }
    spec.protectedAttributes.forEach((a, i) => {
      const feature = spec.features.find((f) => f.name === a.feature);
      if (!feature) ctx.addIssue({ code: 'custom', path: ['protectedAttributes', i], message: `"${a.feature}" is not a feature of this model` });
      else if (feature.type !== 'category' && !a.bands) {
        ctx.addIssue({ code: 'custom', path: ['protectedAttributes', i], message: `"${a.feature}" is numeric: give its bands, e.g. { feature: ${a.feature}, bands: [30, 40, 50] }` });
      }
    });
  });

/** What the label object may say for each task: one meaning per task, nothing of another task's. */
function labelIssues(task: Task, label: LabelSpec): { path: string[]; message: string }[] {
  if (typeof label === 'string') {
    return task === 'multiclass-classification' ? [{ path: ['label'], message: 'a multiclass label lists its classes: label: { column: grade, classes: [low, medium, high] }' }] : [];
  }
  const given = (['positive', 'classes', 'objective'] as const).filter((k) => label[k] !== undefined);
  const wanted = { 'binary-classification': 'positive', 'multiclass-classification': 'classes', regression: 'objective' } as const;
  const issues = given.filter((k) => k !== wanted[task]).map((k) => ({ path: ['label', k], message: `belongs to a ${k === 'positive' ? 'binary-classification' : k === 'classes' ? 'multiclass-classification' : 'regression'} label, not a ${task} one` }));
  if (task === 'binary-classification' && label.positive === undefined) issues.push({ path: ['label', 'positive'], message: 'give the positive value, a string or a number (e.g. positive: "yes")' });
  if (task === 'multiclass-classification' && label.classes === undefined) issues.push({ path: ['label', 'classes'], message: 'give the classes in a fixed order, e.g. classes: [low, medium, high]' });
  if (label.classes && new Set(label.classes).size !== label.classes.length) issues.push({ path: ['label', 'classes'], message: 'a class is listed twice' });
  if (label.classes && new Set(label.classes.map((c) => typeof c)).size > 1) issues.push({ path: ['label', 'classes'], message: 'classes must be all integers or all strings' });
  return issues;
}

export type ModelSpec = z.infer<typeof modelSpecSchema>;

/**
 * What a batch is validated against: a change here (a feature added, a
 * category value listed, the label's meaning) makes earlier batches worth
 * validating again; a change elsewhere (approvers, rollout) does not.
 */
export function dataSchemaOf(spec: ModelSpec): Pick<ModelSpec, 'task' | 'idColumn' | 'timeColumn' | 'label' | 'features' | 'validation'> {
  const { task, idColumn, timeColumn, label, features, validation } = spec;
  return { task, idColumn, timeColumn, label, features, validation };
}

export type LabelSpec = z.infer<typeof labelSchema>;

/** The row key of a model's canonical CSV and snapshots: its id column, or CONTENT_ID_COLUMN where rows are known by content. */
export function rowKeyColumn(spec: Pick<ModelSpec, 'idColumn'>): string {
  return spec.idColumn ?? CONTENT_ID_COLUMN;
}
export type FeatureSpec = z.infer<typeof featureSchema>;
export type TrainerSpec = z.infer<typeof trainerSchema>;
export type Policy = z.infer<typeof policySchema>;
export type RolloutPolicy = z.infer<typeof rolloutSchema>;
export type RolloutGuard = z.infer<typeof rolloutGuardSchema>;
export type MetricName = z.infer<typeof metricNameSchema>;
export type ProtectedAttribute = z.infer<typeof protectedAttributeSchema>;

/**
 * A union that failed on every branch reports only that; where the value had
 * the type of exactly one branch (an object where a name or an object is
 * allowed), that branch's own issues are the ones naming the field at fault.
 */
function unnest(issue: z.core.$ZodIssue, at: PropertyKey[] = []): { path: PropertyKey[]; message: string }[] {
  const path = [...at, ...issue.path];
  if (issue.code === 'invalid_union') {
    const typed = issue.errors.filter((branch) => !branch.every((i) => i.code === 'invalid_type' && i.path.length === 0));
    if (typed.length === 1) return typed[0].flatMap((i) => unnest(i, path));
  }
  return [{ path, message: issue.message }];
}

/** Formats zod issues as "path: message" lines so a user can find the field at fault. */
export function describeIssues(error: z.ZodError, where: string): string {
  const lines = error.issues.flatMap((i) => unnest(i)).map((i) => `  ${[where, ...i.path].map(String).join('.')}: ${i.message}`);
  return lines.join('\n');
}

export function parseModelSpec(input: unknown, where = 'spec'): ModelSpec {
  const parsed = modelSpecSchema.safeParse(input);
  if (!parsed.success) throw new Error(`invalid model spec:\n${describeIssues(parsed.error, where)}`);
  return parsed.data;
}
