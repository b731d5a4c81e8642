-- Regression and multiclass snapshots have no positive class: their count of positives is unknown, not 0.
ALTER TABLE dataset_snapshots ALTER COLUMN positives DROP NOT NULL;
