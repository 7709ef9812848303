-- Up Migration
-- An action that may run twice without harm: a pipeline may run it as a local activity (README: fast short steps).
ALTER TABLE actions ADD COLUMN idempotent boolean NOT NULL DEFAULT false;

-- Down Migration
ALTER TABLE actions DROP COLUMN idempotent;
