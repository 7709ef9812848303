-- Up Migration
-- StackStorm packs run as in StackStorm (issue 11): the pack's configuration, its datastore, and the
-- removal of a pack (history kept).

-- A pack's config values (`stackwire pack config`), checked against its config.schema.yaml. A key the
-- schema marks secret is stored sealed with the stack key ({"$sealed": …}), never in clear.
CREATE TABLE pack_config (
  pack       text        NOT NULL,
  key        text        NOT NULL,
  value      jsonb       NOT NULL,
  secret     boolean     NOT NULL DEFAULT false,
  set_by     text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pack, key)
);

-- The datastore of a pack's actions (st2's action_service): names as st2 builds them (a local key is
-- "<pack>.<Class>:<name>"), scoped to the pack. An encrypted value is sealed; expired rows are not read
-- and are swept.
CREATE TABLE datastore (
  pack       text        NOT NULL,
  name       text        NOT NULL,
  value      jsonb       NOT NULL,
  secret     boolean     NOT NULL DEFAULT false,
  expires_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pack, name)
);
CREATE INDEX datastore_expires ON datastore (expires_at) WHERE expires_at IS NOT NULL;

-- A removed pack: its actions are marked removed, its versions and runs are kept.
ALTER TABLE packs ADD COLUMN removed_at timestamptz, ADD COLUMN removed_by text;

-- StackStorm remote-shell actions run over SSH by the shim (runner st2-remote).
ALTER TABLE actions DROP CONSTRAINT actions_runner_check;
ALTER TABLE actions ADD CONSTRAINT actions_runner_check CHECK (runner IN ('python', 'shell', 'node', 'exec', 'st2-python', 'st2-remote', 'builtin'));

-- Down Migration
DELETE FROM actions WHERE runner = 'st2-remote';
ALTER TABLE actions DROP CONSTRAINT actions_runner_check;
ALTER TABLE actions ADD CONSTRAINT actions_runner_check CHECK (runner IN ('python', 'shell', 'node', 'exec', 'st2-python', 'builtin'));
ALTER TABLE packs DROP COLUMN removed_at, DROP COLUMN removed_by;
DROP TABLE datastore;
DROP TABLE pack_config;
