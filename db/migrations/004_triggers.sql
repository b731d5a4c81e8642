-- The client's row id, where a prediction request carried one: delayed labels
-- join on it to give live AUC.
ALTER TABLE predictions ADD COLUMN row_id text;
CREATE INDEX predictions_model_row_id ON predictions (model, row_id) WHERE row_id IS NOT NULL;

-- Every drift check, conclusive or not, with its report in S3.
CREATE TABLE drift_checks (
  id               bigserial PRIMARY KEY,
  model_id         bigint NOT NULL REFERENCES models(id),
  check_id         text NOT NULL UNIQUE,
  version_id       bigint REFERENCES model_versions(id),
  snapshot_id      bigint REFERENCES dataset_snapshots(id),
  rows             integer NOT NULL,
  max_psi          real,
  score_psi        real,
  drifted_features text[] NOT NULL DEFAULT '{}',
  live_auc         real,
  labelled         integer NOT NULL DEFAULT 0,
  retrain          boolean NOT NULL,
  summary          text NOT NULL,
  report_key       text,
  report_sha256    text,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX drift_checks_model_at ON drift_checks (model_id, created_at DESC);
