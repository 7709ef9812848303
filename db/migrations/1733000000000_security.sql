-- Up Migration
-- Who may call the API (keys stored as salted scrypt hashes, never the key), the append-only and
-- hash-chained audit trail, and protected (production) environments that need four eyes.
CREATE TABLE api_keys (
  id            text PRIMARY KEY,
  name          text NOT NULL,
  role          text NOT NULL CHECK (role IN ('viewer', 'operator', 'deployer', 'admin')),
  scopes        jsonb NOT NULL DEFAULT '{}'::jsonb,
  description   text NOT NULL DEFAULT '',
  rate_limit    integer,
  salt          bytea NOT NULL,
  hash          bytea NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  created_by    text NOT NULL,
  expires_at    timestamptz,
  revoked_at    timestamptz,
  revoked_by    text,
  last_used_at  timestamptz
);

CREATE TABLE audit_log (
  seq         bigint PRIMARY KEY,
  at          timestamptz NOT NULL,
  actor       text,
  role        text,
  key_id      text,
  action      text NOT NULL,
  target      text,
  parameters  jsonb NOT NULL DEFAULT '{}'::jsonb,
  result      text NOT NULL,
  status      integer NOT NULL,
  request_id  text NOT NULL,
  source      text,
  prev_hash   text NOT NULL,
  hash        text NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_at ON audit_log (at);

-- Append-only, whoever connects: rows can be added, never changed or removed.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP;
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

ALTER TABLE environments ADD COLUMN protected boolean NOT NULL DEFAULT false;

-- Down Migration
ALTER TABLE environments DROP COLUMN protected;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE api_keys;
