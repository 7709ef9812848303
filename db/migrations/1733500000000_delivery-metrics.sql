-- Up Migration
-- Delivery metrics (issue 15): deploy frequency, lead time, change failure rate and time to restore,
-- computed from the deployment records (db/delivery-metrics.ts).

-- The deploy run a region leg belongs to: its id is `<deployment id>.<region>.<kind>`.
ALTER TABLE deployments ADD COLUMN deployment_id text
  GENERATED ALWAYS AS (left(id, length(id) - length(region) - length(kind) - 2)) STORED;
-- The trigger instance (a push, a webhook delivery) whose run started the deploy, when one did.
ALTER TABLE deployments ADD COLUMN trigger_id text;
CREATE INDEX deployments_run ON deployments (deployment_id);
-- The legs of an environment in a window; a component version's first record (its "creation").
CREATE INDEX deployments_env_started ON deployments (environment, started_at) WHERE kind = 'deploy';
CREATE INDEX deployments_component_version ON deployments (component, version, started_at);

-- What a trigger instance said that outlives its payload (which is dropped once dispatched): for a
-- push, the pushed commit, its timestamp and its author.
ALTER TABLE triggers ADD COLUMN metadata jsonb;

-- Down Migration
ALTER TABLE triggers DROP COLUMN metadata;
DROP INDEX deployments_component_version;
DROP INDEX deployments_env_started;
DROP INDEX deployments_run;
ALTER TABLE deployments DROP COLUMN trigger_id;
ALTER TABLE deployments DROP COLUMN deployment_id;
