-- The model registry, lineage and audit trail.

CREATE TABLE models (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  spec        jsonb NOT NULL,
  spec_sha256 text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every batch offered to a model, accepted or quarantined; never deleted.
CREATE TABLE data_batches (
  id              bigserial PRIMARY KEY,
  model_id        bigint NOT NULL REFERENCES models(id),
  source          text NOT NULL,
  source_sha256   text NOT NULL,
  status          text NOT NULL CHECK (status IN ('accepted', 'quarantined')),
  row_count       integer NOT NULL,
  -- accepted: canonical rows; quarantined: the original bytes, kept for inspection
  artifact_key    text NOT NULL,
  artifact_sha256 text NOT NULL,
  artifact_bytes  bigint NOT NULL,
  report          jsonb NOT NULL DEFAULT '{}',
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (model_id, source_sha256)
);

CREATE TABLE dataset_snapshots (
  id              bigserial PRIMARY KEY,
  model_id        bigint NOT NULL REFERENCES models(id),
  artifact_key    text NOT NULL,
  artifact_sha256 text NOT NULL,
  artifact_bytes  bigint NOT NULL,
  row_count       integer NOT NULL,
  positives       integer NOT NULL,
  batch_ids       bigint[] NOT NULL,
  split           jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (model_id, artifact_sha256)
);

CREATE TABLE training_runs (
  id              bigserial PRIMARY KEY,
  model_id        bigint NOT NULL REFERENCES models(id),
  snapshot_id     bigint NOT NULL REFERENCES dataset_snapshots(id),
  workflow_id     text NOT NULL,
  trigger         jsonb NOT NULL,
  trainer         jsonb NOT NULL,
  artifact_key    text NOT NULL,
  artifact_sha256 text NOT NULL,
  artifact_bytes  bigint NOT NULL,
  metrics         jsonb NOT NULL,
  wall_ms         integer NOT NULL,
  -- NULL where it cannot be observed (an external command trainer's own CPU time)
  cpu_ms          integer,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workflow_id)
);

CREATE TABLE model_versions (
  id              bigserial PRIMARY KEY,
  model_id        bigint NOT NULL REFERENCES models(id),
  version         integer NOT NULL,
  training_run_id bigint NOT NULL UNIQUE REFERENCES training_runs(id),
  snapshot_id     bigint NOT NULL REFERENCES dataset_snapshots(id),
  artifact_key    text NOT NULL,
  artifact_sha256 text NOT NULL,
  artifact_bytes  bigint NOT NULL,
  status          text NOT NULL CHECK (status IN (
                    'candidate', 'awaiting_approval', 'rejected', 'failed_policy', 'failed',
                    'approved', 'champion', 'retired')),
  status_reason   text,
  workflow_id     text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (model_id, version)
);

CREATE TABLE evaluations (
  id                  bigserial PRIMARY KEY,
  model_version_id    bigint NOT NULL REFERENCES model_versions(id),
  snapshot_id         bigint NOT NULL REFERENCES dataset_snapshots(id),
  champion_version_id bigint REFERENCES model_versions(id),
  metrics             jsonb NOT NULL,
  champion_metrics    jsonb,
  verdict             jsonb,
  passed              boolean,
  report_key          text NOT NULL,
  report_sha256       text NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (model_version_id, snapshot_id)
);

CREATE TABLE approvals (
  id               bigserial PRIMARY KEY,
  model_version_id bigint NOT NULL UNIQUE REFERENCES model_versions(id),
  decision         text NOT NULL CHECK (decision IN ('approved', 'rejected')),
  decided_by       text NOT NULL,
  channel          text NOT NULL,
  comment          text,
  decided_at       timestamptz NOT NULL,
  workflow_id      text NOT NULL
);

-- Named pointers to versions ("champion"); the previous target is kept for rollback.
CREATE TABLE model_aliases (
  model_id            bigint NOT NULL REFERENCES models(id),
  alias               text NOT NULL,
  version_id          bigint NOT NULL REFERENCES model_versions(id),
  previous_version_id bigint REFERENCES model_versions(id),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_id, alias)
);

CREATE TABLE deployments (
  id                  bigserial PRIMARY KEY,
  model_id            bigint NOT NULL REFERENCES models(id),
  version_id          bigint NOT NULL REFERENCES model_versions(id),
  previous_version_id bigint REFERENCES model_versions(id),
  action              text NOT NULL CHECK (action IN ('promote', 'rollback')),
  actor               text NOT NULL,
  workflow_id         text,
  created_at          timestamptz NOT NULL DEFAULT now()
);

-- Who did or tried what. Model names, not keys, so attempts on unknown models are kept too.
CREATE TABLE audit_events (
  id         bigserial PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  actor      text NOT NULL,
  action     text NOT NULL,
  model      text,
  version    integer,
  channel    text,
  outcome    text NOT NULL CHECK (outcome IN ('ok', 'denied', 'error')),
  details    jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_events_model_at ON audit_events (model, at DESC);
CREATE INDEX model_versions_status ON model_versions (model_id, status);
