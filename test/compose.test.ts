/** temporal-compose.yml cannot run here (no Docker engine); this checks it parses and is complete. */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import YAML from 'yaml';
import { PROJECT_ROOT } from '../lib/config.js';

interface Service {
  image?: string;
  command?: string[] | string;
  environment?: Record<string, string>;
  depends_on?: Record<string, unknown> | string[];
}

const doc = YAML.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'temporal-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};

test('names every service of the production-like topology', (t) => {
  t.deepEqual(
    Object.keys(doc.services).sort(),
    ['api', 'orchestrator', 'stackwire-db', 'temporal', 'temporal-db', 'temporal-schema', 'temporal-ui', 'worker-eu-west', 'worker-us-east'].sort(),
  );
});

test('Temporal runs on PostgreSQL, pinned to the server and UI versions the CLI bundles', (t) => {
  t.is(doc.services.temporal.image, 'temporalio/server:1.29.1');
  t.is(doc.services.temporal.environment!.DB, 'postgres12');
  t.is(doc.services['temporal-ui'].image, 'temporalio/ui:2.42.1');
  t.regex(String(doc.services['temporal-schema'].command), /setup-schema/);
});

test('each region has a worker serving its queue, and every Stackwire service points at Temporal and Postgres', (t) => {
  for (const region of ['us-east', 'eu-west']) {
    t.deepEqual(doc.services[`worker-${region}`].command, ['node', 'dist/workers/worker.js', '--region', region]);
  }
  t.deepEqual(doc.services.orchestrator.command, ['node', 'dist/workers/worker.js', '--orchestrator']);
  for (const name of ['api', 'orchestrator', 'worker-us-east', 'worker-eu-west']) {
    const env = doc.services[name].environment!;
    t.is(env.TEMPORAL_ADDRESS, 'temporal:7233', name);
    t.regex(env.DATABASE_URL ?? '', /^postgres:\/\/.*@stackwire-db:5432\/stackwire$/, name);
  }
});

test('every Stackwire service shares the payload key, and the Web UI decodes through the API codec endpoint', (t) => {
  for (const name of ['api', 'orchestrator', 'worker-us-east', 'worker-eu-west']) {
    t.regex(doc.services[name].environment!.STACKWIRE_SECRET_KEY ?? '', /^\$\{STACKWIRE_SECRET_KEY:\?/, name);
  }
  t.is(doc.services['temporal-ui'].environment!.TEMPORAL_CODEC_ENDPOINT, 'http://localhost:7380/api/v1/codec');
});
