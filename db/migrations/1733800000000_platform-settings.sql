-- Up Migration
-- Platform-aware deploys (issue 13): each component's platform settings from the source of truth
-- (sot/platforms.ts) — KVM domains, vSphere VMs, Docker containers or bare-metal hosts per region.
-- Secrets are references (secret:<name>), never values.
ALTER TABLE components ADD COLUMN platform_settings jsonb;

-- Down Migration
ALTER TABLE components DROP COLUMN platform_settings;
