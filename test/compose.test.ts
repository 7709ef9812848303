/** temporal-compose.yml cannot run here (no Docker engine); this checks it parses and is complete. */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import YAML from 'yaml';
import { ALL_SEARCH_ATTRIBUTES } from '../common/constants.js';
import { PROJECT_ROOT } from '../lib/config.js';

interface Service {
  deploy?: { replicas?: number | string };
  image?: string;
  command?: string[] | string;
  environment?: Record<string, string>;
  depends_on?: Record<string, unknown> | string[];
}

const doc = YAML.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'temporal-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  configs: Record<string, { content: string }>;
};

test('names every service of the production-like topology', (t) => {
  t.deepEqual(
    Object.keys(doc.services).sort(),
    [
      'api',
      'orchestrator',
      'stackwire-db',
      'temporal',
      'temporal-db',
      'temporal-schema',
      'temporal-setup',
      'temporal-ui',
      'worker-eu-west',
      'worker-us-east',
    ].sort(),
  );
});

test('Temporal runs on PostgreSQL, pinned to the server and UI versions the CLI bundles', (t) => {
  t.is(doc.services.temporal.image, 'temporalio/server:1.29.1');
  t.is(doc.services.temporal.environment!.DB, 'postgres12');
  t.is(doc.services['temporal-ui'].image, 'temporalio/ui:2.42.1');
  t.regex(String(doc.services['temporal-schema'].command), /setup-schema/);
  t.regex(String(doc.services['temporal-schema'].command), /update-schema -d \/etc\/temporal\/schema\/postgresql\/v12\/visibility\/versioned/);
});

test('as npm start -- --engine server: eager dispatch by dynamic config, the namespace and every search attribute registered before Stackwire starts', (t) => {
  t.regex(doc.configs['temporal-dynamic-config'].content, /system\.enableActivityEagerExecution:\s*\n\s*- value: true/);
  const setup = String(doc.services['temporal-setup'].command);
  t.regex(setup, /namespace create -n default --retention 72h/);
  for (const k of ALL_SEARCH_ATTRIBUTES) t.true(new RegExp(`\\b${k.name}\\b`).test(setup), `${k.name} is registered`);
  for (const name of ['api', 'orchestrator', 'worker-us-east', 'worker-eu-west']) {
    t.deepEqual((doc.services[name].depends_on as Record<string, unknown>)['temporal-setup'], { condition: 'service_completed_successfully' }, name);
  }
});

test('N worker replicas per region', (t) => {
  for (const region of ['us-east', 'eu-west']) t.is(doc.services[`worker-${region}`].deploy?.replicas, '${STACKWIRE_WORKERS_PER_REGION:-2}');
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
