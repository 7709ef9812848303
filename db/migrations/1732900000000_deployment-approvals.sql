-- Up Migration
-- Who let a deploy past its approval gate, on every region record deployed after the gate.
ALTER TABLE deployments ADD COLUMN approved_by text;

-- Down Migration
ALTER TABLE deployments DROP COLUMN approved_by;
