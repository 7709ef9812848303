-- Up Migration
-- Built-in actions (core.ingest …) and StackStorm python-script actions run through a shim.
ALTER TABLE actions DROP CONSTRAINT actions_runner_check;
ALTER TABLE actions ADD CONSTRAINT actions_runner_check CHECK (runner IN ('python', 'shell', 'node', 'exec', 'st2-python', 'builtin'));

-- Down Migration
ALTER TABLE actions DROP CONSTRAINT actions_runner_check;
ALTER TABLE actions ADD CONSTRAINT actions_runner_check CHECK (runner IN ('python', 'shell', 'node', 'exec'));
