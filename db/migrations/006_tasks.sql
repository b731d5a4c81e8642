-- Regression and multiclass snapshots have no positive class: their count of positives is unknown, not 0.
ALTER TABLE dataset_snapshots ALTER COLUMN positives DROP NOT NULL;

-- The data schema (features, label, id and time columns, task, validation) a batch was validated under:
-- re-sending the same file after that schema changed validates it again instead of answering "duplicate".
ALTER TABLE data_batches ADD COLUMN data_schema_sha256 text;

-- When the scored row happened, for a model with a time column whose client sent it: the drift
-- monitor's window is then measured in data time (the latest rows' time), not in serving time.
ALTER TABLE predictions ADD COLUMN data_time timestamptz;
CREATE INDEX predictions_model_version_data_time ON predictions (model, version, role, data_time) WHERE data_time IS NOT NULL;
