-- Up Migration
-- A run whose worker was lost (issue 14): `lost` until an operator resolves it (retry, succeeded, failed).
ALTER TABLE executions DROP CONSTRAINT executions_status_check;
ALTER TABLE executions ADD CONSTRAINT executions_status_check
  CHECK (status IN ('scheduled', 'running', 'lost', 'succeeded', 'failed', 'timed_out', 'cancelled'));

-- Down Migration
UPDATE executions SET status = 'failed' WHERE status = 'lost';
ALTER TABLE executions DROP CONSTRAINT executions_status_check;
ALTER TABLE executions ADD CONSTRAINT executions_status_check
  CHECK (status IN ('scheduled', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled'));
