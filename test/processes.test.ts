/** Start-up checks of the worker and API processes: bad configuration stops them with a clear message. */
import { spawn } from 'node:child_process';
import test from 'ava';
import { API_ENTRY, WORKER_ENTRY } from '../lib/paths.js';

function run(entry: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // A process that should have exited at once but hangs fails its test instead of the whole run.
    const child = spawn(process.execPath, [entry, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('a worker for an unknown region refuses to start and lists the configured ones', async (t) => {
  const r = await run(WORKER_ENTRY, ['--region', 'mars']);
  t.is(r.code, 2);
  t.regex(r.stderr, /region "mars" is not configured\. Configured regions \(STACKWIRE_REGIONS\): us-east, eu-west/);
});

test('a worker needs at least one role', async (t) => {
  const r = await run(WORKER_ENTRY, []);
  t.is(r.code, 2);
  t.regex(r.stderr, /give --region <name> \(one or more\) and\/or --orchestrator/);
  const help = await run(WORKER_ENTRY, ['--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /Usage: stackwire-worker/);
});

test('bad configuration names the variable and the fix', async (t) => {
  const port = await run(API_ENTRY, [], { STACKWIRE_API_PORT: 'eighty' });
  t.is(port.code, 1);
  t.regex(port.stderr, /configuration error: STACKWIRE_API_PORT="eighty" is not a whole number\. Set it to a number from 0 to 65535/);
  const regions = await run(WORKER_ENTRY, ['--region', 'us-east'], { STACKWIRE_REGIONS: 'us-east,US West' });
  t.is(regions.code, 1);
  t.regex(regions.stderr, /STACKWIRE_REGIONS: region "US West" is not a valid name/);
  const addr = await run(WORKER_ENTRY, ['--orchestrator'], { TEMPORAL_ADDRESS: 'nohostport' });
  t.is(addr.code, 1);
  t.regex(addr.stderr, /TEMPORAL_ADDRESS="nohostport" is not host:port/);
  const modules = await run(WORKER_ENTRY, ['--region', 'us-east'], { STACKWIRE_PUPPET_MODULEPATH: 'puppet/modules' });
  t.is(modules.code, 1);
  t.regex(modules.stderr, /STACKWIRE_PUPPET_MODULEPATH: "puppet\/modules" is not an absolute path/);
});

test('bad capacity and metrics settings stop a worker with a message naming the setting and the fix', async (t) => {
  const rate = await run(WORKER_ENTRY, ['--region', 'us-east'], { STACKWIRE_QUEUE_ACTIVITIES_PER_SECOND: 'us-east=fast' });
  t.is(rate.code, 1);
  t.regex(
    rate.stderr,
    /configuration error: STACKWIRE_QUEUE_ACTIVITIES_PER_SECOND \(us-east\): "fast" is not a rate\. Give activities a second as a positive number/,
  );
  const region = await run(WORKER_ENTRY, ['--region', 'us-east'], { STACKWIRE_QUEUE_ACTIVITIES_PER_SECOND: 'us-east=5,mars=2' });
  t.regex(region.stderr, /STACKWIRE_QUEUE_ACTIVITIES_PER_SECOND: region "mars" is not configured\. Configured regions \(STACKWIRE_REGIONS\): us-east, eu-west/);
  const perWorker = await run(WORKER_ENTRY, ['--region', 'us-east'], { STACKWIRE_WORKER_ACTIVITIES_PER_SECOND: '0' });
  t.regex(perWorker.stderr, /STACKWIRE_WORKER_ACTIVITIES_PER_SECOND: "0" is not a rate/);
  const port = await run(WORKER_ENTRY, ['--region', 'us-east'], { STACKWIRE_WORKER_METRICS_PORT: '70000' });
  t.regex(
    port.stderr,
    /STACKWIRE_WORKER_METRICS_PORT="70000" is not a port\. Set it to a number from 1 to 65535, 0 for a free port, or unset it to serve no metrics/,
  );
  const flag = await run(WORKER_ENTRY, ['--region', 'us-east', '--metrics-port', 'x']);
  t.is(flag.code, 2);
  t.regex(flag.stderr, /--metrics-port "x" is not a port number \(0-65535; 0 picks a free one\)/);
  const slots = await run(WORKER_ENTRY, ['--orchestrator'], { STACKWIRE_MAX_CONCURRENT_WORKFLOW_TASKS: '1' });
  t.regex(slots.stderr, /STACKWIRE_MAX_CONCURRENT_WORKFLOW_TASKS=1 is out of range\. Set it to a number from 2 to 10000/);
});
