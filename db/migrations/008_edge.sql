-- Models at the edge: the devices that run them, what each is told to serve,
-- and what each reports back.

-- A device and its group (a plant, a fleet); its token is stored as a digest
-- only (a random 32-byte secret needs no slow hash); labels say where it is.
CREATE TABLE edge_devices (
  id              text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
  group_name      text NOT NULL CHECK (group_name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
  labels          jsonb NOT NULL DEFAULT '{}',
  token_digest    text NOT NULL,
  created_by      text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  disabled_at     timestamptz,
  last_seen_at    timestamptz,
  -- The device's latest report: what it serves, its load errors and refusals.
  last_report     jsonb
);
CREATE INDEX edge_devices_group ON edge_devices (group_name);

-- What a device is told to serve, one row per change: the newest row per
-- device and model is its assignment. Serials come from one sequence, so they
-- only ever rise for every device, rollbacks included (anti-rollback holds).
CREATE SEQUENCE edge_manifest_serial;
CREATE TABLE edge_assignments (
  id            bigserial PRIMARY KEY,
  device_id     text NOT NULL REFERENCES edge_devices(id),
  model         text NOT NULL,
  version       integer NOT NULL,
  serial        bigint NOT NULL DEFAULT nextval('edge_manifest_serial'),
  deployment_id bigint,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX edge_assignments_device ON edge_assignments (device_id, model, serial DESC);

-- A deployment of a model version to a group, ring by ring (edgeRolloutWorkflow).
CREATE TABLE edge_deployments (
  id            bigserial PRIMARY KEY,
  model         text NOT NULL,
  version       integer NOT NULL,
  group_name    text NOT NULL,
  rings         integer[] NOT NULL,
  workflow_id   text NOT NULL UNIQUE,
  status        text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'rolled_back')),
  reason        text,
  created_by    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz
);

-- Telemetry per device, model, version and hour, as devices report it (they
-- buffer it while offline): requests, errors, latency and the distribution of
-- their answers, which the rollout guard and the drift monitor read per group.
CREATE TABLE edge_telemetry (
  device_id   text NOT NULL REFERENCES edge_devices(id),
  group_name  text NOT NULL,
  model       text NOT NULL,
  version     integer NOT NULL,
  hour        timestamptz NOT NULL,
  requests    integer NOT NULL,
  errors      integer NOT NULL,
  latency_ms  jsonb NOT NULL,
  -- Counts of answers per bin of [0, 1] (probabilities) or of the value range the device saw.
  scores      jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (device_id, model, version, hour)
);
CREATE INDEX edge_telemetry_group ON edge_telemetry (model, group_name, hour);
