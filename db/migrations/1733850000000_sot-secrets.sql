-- Up Migration
-- Secrets the source of truth refers to (secret:<name>: vCenter passwords, SSH keys, container
-- environment values), sealed with the stack key; the files never hold them (issue 13).
CREATE TABLE sot_secrets (
  name       text        PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
  value      jsonb       NOT NULL,
  set_by     text,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE sot_secrets;
