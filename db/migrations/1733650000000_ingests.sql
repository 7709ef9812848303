-- Up Migration
-- Ingest reports by reference (issue 14, part 5): a workflow returns only a summary; the report of an
-- ingest — its summary and one row per action, warning, unsupported file and changed file — is kept
-- here and read through GET /api/v1/ingests/:id and …/items (paged).

-- One ingest (its id is its workflow id). `running` until the workflow records its end.
CREATE TABLE ingests (
  id text PRIMARY KEY,
  pack text NOT NULL,
  mode text NOT NULL CHECK (mode IN ('apply', 'dry-run', 'check')),
  source jsonb NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
  actor text,
  region text,
  -- The uploaded manifest, a blob of the content-addressed store (uploads only).
  manifest_blob text,
  files integer,
  summary jsonb,
  -- Counts of the pack files added, changed and removed against the catalog.
  file_changes jsonb,
  drift boolean,
  pack_version integer,
  manifest_hash text,
  error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX ingests_pack_created ON ingests (pack, created_at DESC);

-- The report's items, in the order they are read: kind `action` (name, change, version, details,
-- sourcePath, framework, yaml), `warning` (file, line, message), `unsupported` (file, reason), `file`
-- (path, change).
CREATE TABLE ingest_items (
  ingest_id text NOT NULL REFERENCES ingests (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  kind text NOT NULL CHECK (kind IN ('action', 'warning', 'unsupported', 'file')),
  item jsonb NOT NULL,
  PRIMARY KEY (ingest_id, seq)
);
CREATE INDEX ingest_items_kind ON ingest_items (ingest_id, kind, seq);

-- Down Migration
DROP TABLE ingest_items;
DROP TABLE ingests;
