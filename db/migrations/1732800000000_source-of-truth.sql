-- Up Migration
-- The source of truth: what exists, where it runs, what it needs, and every deployment of it.
CREATE TABLE environments (
  name        text PRIMARY KEY,
  description text NOT NULL DEFAULT '',
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE regions (
  name        text PRIMARY KEY,
  description text NOT NULL DEFAULT '',
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE components (
  name          text PRIMARY KEY,
  repository    text  NOT NULL,
  platform      text  NOT NULL CHECK (platform IN ('bare-metal', 'kvm', 'vsphere', 'docker')),
  owner         text  NOT NULL DEFAULT '',
  puppet_role   text,
  hiera         jsonb NOT NULL DEFAULT '{}',
  checks        jsonb NOT NULL DEFAULT '[]',
  deploy_params jsonb NOT NULL DEFAULT '{}',
  actions       jsonb NOT NULL DEFAULT '{}',
  source        text  NOT NULL DEFAULT '',
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE placements (
  component   text NOT NULL REFERENCES components (name) ON DELETE CASCADE,
  environment text NOT NULL REFERENCES environments (name) ON DELETE CASCADE,
  region      text NOT NULL REFERENCES regions (name) ON DELETE CASCADE,
  -- The order the definitions list them in: the first is the default canary.
  position    integer NOT NULL DEFAULT 0,
  PRIMARY KEY (component, environment, region)
);

CREATE TABLE dependencies (
  component  text NOT NULL REFERENCES components (name) ON DELETE CASCADE,
  depends_on text NOT NULL REFERENCES components (name) ON DELETE CASCADE,
  PRIMARY KEY (component, depends_on),
  CHECK (component <> depends_on)
);
CREATE INDEX dependencies_reverse ON dependencies (depends_on);

-- One row per deploy (or rollback) of a component version to one region of one environment.
-- No foreign key to components: history outlives a component's removal.
CREATE TABLE deployments (
  id               text PRIMARY KEY,
  component        text NOT NULL,
  version          text NOT NULL,
  environment      text NOT NULL,
  region           text NOT NULL,
  kind             text NOT NULL DEFAULT 'deploy' CHECK (kind IN ('deploy', 'rollback')),
  status           text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'rolled_back', 'cancelled')),
  previous_version text,
  actor            text NOT NULL,
  trigger          text NOT NULL,
  workflow_id      text NOT NULL,
  run_id           text,
  reason           text,
  puppet_summary   jsonb,
  started_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);
CREATE INDEX deployments_component_env ON deployments (component, environment, started_at DESC);

-- Down Migration
DROP TABLE deployments;
DROP TABLE dependencies;
DROP TABLE placements;
DROP TABLE components;
DROP TABLE regions;
DROP TABLE environments;
