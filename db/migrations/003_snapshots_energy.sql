-- Snapshots are Parquet files; their per-column statistics (data/parquet.ts
-- ColumnStats by column name) are what new batches are checked against.
-- NULL for snapshots made before statistics were kept.
ALTER TABLE dataset_snapshots ADD COLUMN stats jsonb;

-- What a training run drew and what that cost. kWh and cost are columns so
-- they can be summed; `energy` keeps how they were obtained (measured or
-- estimated, method, price source, or why there is no cost). NULL for runs
-- made before metering; energy_cost also NULL when no price was available.
ALTER TABLE training_runs
  ADD COLUMN energy_kwh      double precision,
  ADD COLUMN energy_cost     double precision,
  ADD COLUMN energy_currency text,
  ADD COLUMN energy          jsonb;
