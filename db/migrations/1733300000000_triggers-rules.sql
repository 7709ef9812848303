-- Up Migration
-- Triggers (issue 10): every trigger instance that reached Stackwire (webhook deliveries, sensor events),
-- what it matched and what it started; rules and their versions; declared generic webhooks.

-- A trigger instance. `pending` rows are an outbox: a sensor's event is written here by a worker and
-- dispatched by the API (which holds the rule index); `received` ones are being dispatched (a webhook's,
-- or a pending one claimed) — one left so by a crash is dispatched again later, which starts nothing
-- twice (run ids derive from the trigger). The payload is kept only until then; afterwards its digest
-- says what it was.
CREATE TABLE triggers (
  id              text PRIMARY KEY,
  type            text NOT NULL,
  source          text NOT NULL,
  delivery_id     text,
  payload_digest  text NOT NULL,
  payload_size    integer NOT NULL,
  payload         jsonb,
  received_at     timestamptz NOT NULL DEFAULT now(),
  status          text NOT NULL CHECK (status IN ('pending', 'received', 'dispatched', 'failed')),
  note            text,
  matched         jsonb NOT NULL DEFAULT '[]'::jsonb,
  dispatched_at   timestamptz
);
CREATE INDEX triggers_undispatched ON triggers (received_at) WHERE status IN ('pending', 'received');
CREATE INDEX triggers_type ON triggers (type, received_at DESC);
CREATE INDEX triggers_received ON triggers (received_at DESC);

-- The runs a trigger started (a run id is its workflow id), so a run traces back to its trigger.
CREATE TABLE trigger_runs (
  trigger_id   text NOT NULL REFERENCES triggers (id) ON DELETE CASCADE,
  workflow_id  text NOT NULL,
  kind         text NOT NULL,
  rule         text,
  error        text,
  PRIMARY KEY (trigger_id, workflow_id)
);
CREATE INDEX trigger_runs_workflow ON trigger_runs (workflow_id);

-- Rules: the current version of each (deleted ones keep their history in rule_versions).
CREATE TABLE rules (
  name            text PRIMARY KEY,
  version         integer NOT NULL,
  enabled         boolean NOT NULL,
  trigger_type    text NOT NULL,
  definition      jsonb NOT NULL,
  source          text NOT NULL,
  file            text NOT NULL,
  applied_by      text NOT NULL,
  applied_role    text NOT NULL,
  applied_scopes  jsonb NOT NULL DEFAULT '{}'::jsonb,
  applied_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE rule_versions (
  name        text NOT NULL,
  version     integer NOT NULL,
  definition  jsonb,
  source      text,
  change      text NOT NULL CHECK (change IN ('created', 'updated', 'deleted')),
  actor       text NOT NULL,
  at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version)
);

-- Generic webhooks: POST /api/v1/webhooks/<name>, proved by an HMAC of the body (the secret sealed with
-- the stack's key, since it is needed to verify) or by a token (only its SHA-256 is kept).
CREATE TABLE webhooks (
  name          text PRIMARY KEY,
  auth          text NOT NULL CHECK (auth IN ('hmac', 'token')),
  secret        text,
  token_sha256  text,
  header        text NOT NULL,
  description   text NOT NULL DEFAULT '',
  created_by    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((auth = 'hmac') = (secret IS NOT NULL) AND (auth = 'token') = (token_sha256 IS NOT NULL))
);

-- Down Migration
DROP TABLE webhooks;
DROP TABLE rule_versions;
DROP TABLE rules;
DROP TABLE trigger_runs;
DROP TABLE triggers;
