-- Up Migration
-- The action catalog: every version of every action is kept, so a run stays resolvable
-- after its script changed. Exactly one version per name is current.
CREATE TABLE actions (
  name            text        NOT NULL,
  version         integer     NOT NULL CHECK (version > 0),
  pack            text        NOT NULL,
  description     text        NOT NULL DEFAULT '',
  runner          text        NOT NULL CHECK (runner IN ('python', 'shell', 'node', 'exec')),
  entry_point     text        NOT NULL,
  pack_dir        text        NOT NULL,
  parameters      json        NOT NULL, -- json, not jsonb: parameter order is argv order
  timeout_seconds integer     NOT NULL CHECK (timeout_seconds > 0),
  max_attempts    integer     NOT NULL DEFAULT 1 CHECK (max_attempts > 0),
  region          text,
  content_hash    text        NOT NULL,
  is_current      boolean     NOT NULL DEFAULT true,
  removed_at      timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version)
);
CREATE UNIQUE INDEX actions_one_current ON actions (name) WHERE is_current;
CREATE INDEX actions_pack ON actions (pack);

-- One row per action execution. Parameters and argv are stored with secrets masked.
CREATE TABLE executions (
  id               text        PRIMARY KEY,
  workflow_id      text        NOT NULL,
  run_id           text,
  parent_id        text,
  action           text        NOT NULL,
  action_version   integer     NOT NULL,
  region           text        NOT NULL,
  parameters       json        NOT NULL,
  argv             json        NOT NULL,
  status           text        NOT NULL CHECK (status IN ('scheduled', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled')),
  exit_code        integer,
  signal           text,
  stdout           text        NOT NULL DEFAULT '',
  stderr           text        NOT NULL DEFAULT '',
  stdout_truncated boolean     NOT NULL DEFAULT false,
  stderr_truncated boolean     NOT NULL DEFAULT false,
  error            text,
  worker           text,
  attempt          integer     NOT NULL DEFAULT 1,
  actor            text        NOT NULL,
  trigger          text        NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz
);
CREATE INDEX executions_action_created ON executions (action, created_at DESC);
CREATE INDEX executions_parent ON executions (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX executions_created ON executions (created_at DESC);

-- Down Migration
DROP TABLE executions;
DROP TABLE actions;
