-- A rolled-back version is kept with why, like every other outcome.
ALTER TABLE model_versions DROP CONSTRAINT model_versions_status_check;
ALTER TABLE model_versions ADD CONSTRAINT model_versions_status_check CHECK (status IN (
  'candidate', 'awaiting_approval', 'rejected', 'failed_policy', 'failed',
  'approved', 'rolling_out', 'champion', 'retired', 'rolled_back'));

-- One row per rollout; serving replicas read the active ones (shadow, canary) to
-- know what to load and how to split traffic. Only the rollout workflow writes it.
CREATE TABLE rollouts (
  id                   bigserial PRIMARY KEY,
  model_id             bigint NOT NULL REFERENCES models(id),
  candidate_version_id bigint NOT NULL REFERENCES model_versions(id),
  champion_version_id  bigint REFERENCES model_versions(id),
  phase                text NOT NULL CHECK (phase IN ('checking', 'shadow', 'canary', 'full', 'completed', 'rolled_back')),
  canary_percent       real NOT NULL DEFAULT 0,
  paused               boolean NOT NULL DEFAULT false,
  reason               text,
  workflow_id          text NOT NULL UNIQUE,
  started_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  finished_at          timestamptz
);
-- At most one rollout in flight per model.
CREATE UNIQUE INDEX rollouts_one_active ON rollouts (model_id) WHERE phase IN ('checking', 'shadow', 'canary', 'full');

ALTER TABLE deployments ADD COLUMN reason text;

-- Each replica says, every few seconds, which versions it serves; a rollout is
-- done only when every live replica reports the new one.
CREATE TABLE serving_replicas (
  replica_id   text PRIMARY KEY,
  url          text NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  -- { "<model>": { "champion": 3, "candidate": 4, "phase": "canary" } }
  serving      jsonb NOT NULL DEFAULT '{}'
);

-- The prediction log: one row per scored instance, written in batches off the
-- response path. Feeds the rollout guard now and drift monitoring later.
CREATE TABLE predictions (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL,
  model       text NOT NULL,
  version     integer NOT NULL,
  -- champion: answered; canary: answered by the candidate; shadow: a copy scored by the candidate, not returned
  role        text NOT NULL CHECK (role IN ('champion', 'canary', 'shadow')),
  request_id  uuid NOT NULL,
  row_index   integer NOT NULL,
  replica     text NOT NULL,
  -- time spent scoring (queueing for the batch + ONNX Runtime), the part that differs between versions
  latency_ms  real NOT NULL,
  ok          boolean NOT NULL,
  score       real,
  features    real[]
);
CREATE INDEX predictions_model_version_at ON predictions (model, version, role, at);
CREATE INDEX predictions_model_at ON predictions (model, at);
