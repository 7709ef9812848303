-- Up Migration
-- Rows written by workflows (a gate that timed out) are found again by their request id, so an
-- activity's retry does not write its row twice.
CREATE INDEX audit_log_request ON audit_log (request_id, action);

-- Down Migration
DROP INDEX audit_log_request;
