-- The directory of people who decide: a factory identity, how they are known
-- in Slack (team + user id, never a display name), their CLI token (a scrypt
-- hash only), and the groups a model's approval policy can name.
CREATE TABLE people (
  id             text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9._-]{0,62}$'),
  display_name   text NOT NULL,
  slack_team_id  text,
  slack_user_id  text,
  disabled_at    timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (slack_team_id, slack_user_id),
  CHECK ((slack_team_id IS NULL) = (slack_user_id IS NULL))
);

-- A person has at most one live token; issuing a new one replaces it. The
-- token's id is public (it finds the row), its secret is stored only hashed.
-- Disabling a person revokes their token but keeps its hash, so the owner is
-- told they are disabled, and anyone else only that the token is not valid.
CREATE TABLE person_tokens (
  token_id    text PRIMARY KEY,
  person_id   text NOT NULL UNIQUE REFERENCES people(id),
  secret_hash text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);

CREATE TABLE person_groups (
  group_name text NOT NULL CHECK (group_name ~ '^[a-z][a-z0-9._-]{0,62}$'),
  person_id  text NOT NULL REFERENCES people(id),
  PRIMARY KEY (group_name, person_id)
);

-- Who registered which spec of a model, when: segregation of duties reads the last change.
CREATE TABLE model_spec_changes (
  id          bigserial PRIMARY KEY,
  model_id    bigint NOT NULL REFERENCES models(id),
  spec_sha256 text NOT NULL,
  changed_by  text NOT NULL,
  changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX model_spec_changes_model_at ON model_spec_changes (model_id, changed_at DESC);

-- Every vote counted towards a decision, with the signed assertion it came with.
CREATE TABLE approval_votes (
  model_version_id bigint NOT NULL REFERENCES model_versions(id),
  person_id        text NOT NULL,
  decision         text NOT NULL CHECK (decision IN ('approved', 'rejected')),
  channel          text NOT NULL,
  assertion_id     text NOT NULL UNIQUE,
  comment          text,
  decided_at       timestamptz NOT NULL,
  PRIMARY KEY (model_version_id, person_id)
);
ALTER TABLE approvals ADD COLUMN assertion_ids text[] NOT NULL DEFAULT '{}';

-- The Slack card of a candidate awaiting approval: updated after every vote; the rollout posts into its thread.
CREATE TABLE approval_cards (
  model_version_id bigint PRIMARY KEY REFERENCES model_versions(id),
  channel          text NOT NULL,
  ts               text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()
);
