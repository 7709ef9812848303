-- Up Migration
-- Pack files, content-addressed: a worker anywhere materialises exactly the version a run names,
-- verified by hash, without a shared filesystem.
CREATE TABLE blobs (
  sha256     text        PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size       integer     NOT NULL,
  content    bytea       NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE packs (
  name            text        PRIMARY KEY,
  source          jsonb       NOT NULL,
  current_version integer     NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per distinct set of files of a pack. manifest_hash = sha256 of the sorted (path, mode, sha256) list.
CREATE TABLE pack_versions (
  pack          text        NOT NULL,
  version       integer     NOT NULL CHECK (version > 0),
  manifest_hash text        NOT NULL CHECK (manifest_hash ~ '^[0-9a-f]{64}$'),
  files         jsonb       NOT NULL,
  source        jsonb       NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pack, version),
  UNIQUE (pack, manifest_hash)
);

ALTER TABLE actions
  ADD COLUMN pack_version  integer,
  ADD COLUMN manifest_hash text,
  ADD COLUMN source_path   text,
  ADD COLUMN origin        text  NOT NULL DEFAULT 'metadata' CHECK (origin IN ('metadata', 'inferred', 'override', 'stackstorm', 'builtin')),
  ADD COLUMN argv_prefix   json  NOT NULL DEFAULT '[]',
  ADD COLUMN warnings      jsonb NOT NULL DEFAULT '[]';

-- Output as it is produced, for `stackwire execution logs --follow`. Capped per execution by the worker.
CREATE TABLE execution_logs (
  execution_id text        NOT NULL,
  seq          integer     NOT NULL,
  stream       text        NOT NULL CHECK (stream IN ('stdout', 'stderr', 'system')),
  data         text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (execution_id, seq)
);

-- Down Migration
DROP TABLE execution_logs;
ALTER TABLE actions DROP COLUMN pack_version, DROP COLUMN manifest_hash, DROP COLUMN source_path, DROP COLUMN origin, DROP COLUMN argv_prefix, DROP COLUMN warnings;
DROP TABLE pack_versions;
DROP TABLE packs;
DROP TABLE blobs;
