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

test('a worker needs exactly one role', async (t) => {
  const r = await run(WORKER_ENTRY, []);
  t.is(r.code, 2);
  t.regex(r.stderr, /give exactly one of --region <name> or --orchestrator/);
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
