/**
 * A docker deploy leg's platform step (README: Source of truth, Platforms): pull image:version, replace
 * the container (the old one stopped and kept aside, a new one with the same name and settings), wait
 * for its health check; when it is not healthy in time, the new one goes and the old one is started
 * again. Idempotent: a container already running image:version is left as it is (a retried attempt, or
 * a rollback to what the failed step already restored).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { openSecretRefs, type SecretDeps } from './platform-secrets.js';
import { DockerEngine, DockerError, type ContainerInfo } from '../lib/docker-engine.js';

export interface DockerDeployInput {
  component: string;
  deploymentId: string;
  region: string;
  version: string;
  endpoint: string;
  image: string;
  container: string;
  ports: string[];
  env: Record<string, string>;
  healthTimeoutSeconds: number;
}

export interface DockerDeployResult {
  container: string;
  containerId: string;
  image: string;
  previousImage: string | null;
  /** healthy (its health check passed), running (it has none), or unchanged (it already ran this image). */
  outcome: 'healthy' | 'running' | 'unchanged';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function failure(message: string, type: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type, nonRetryable: true });
}

/** Waits until the container is healthy (or running, without a health check); its last state otherwise. */
async function awaitHealthy(engine: DockerEngine, id: string, seconds: number, beat: (d: unknown) => void): Promise<string> {
  const deadline = Date.now() + seconds * 1000;
  let last = 'starting';
  for (;;) {
    const c = await engine.inspect(id);
    if (!c) return 'gone';
    const health = c.State.Health?.Status;
    last = health ?? c.State.Status;
    if (health === 'healthy') return 'healthy';
    if (!health && c.State.Running) return 'running';
    if (health === 'unhealthy' || (!health && !c.State.Running)) return last;
    beat({ phase: 'waiting for health', state: last });
    if (Date.now() > deadline) return `${last} after ${seconds}s`;
    await sleep(1000);
  }
}

export function createDockerActivities(deps: SecretDeps) {
  return {
    async dockerDeploy(input: DockerDeployInput): Promise<DockerDeployResult> {
      const ctx = Context.current();
      const beat = (d: unknown) => ctx.heartbeat(d);
      // secret:<name> values are opened here, on the region's worker, and go only to the Docker Engine.
      const env = await openSecretRefs(deps, input.env);
      const engine = new DockerEngine(input.endpoint);
      const want = `${input.image}:${input.version}`;
      const aside = `${input.container}.stackwire-previous`;
      try {
        beat({ phase: 'inspecting' });
        const current = await engine.inspect(input.container);
        if (current && current.Config.Image === want && current.State.Running)
          return { container: input.container, containerId: current.Id, image: want, previousImage: null, outcome: 'unchanged' };
        beat({ phase: `pulling ${want}` });
        await engine.pull(input.image, input.version);
        // A container kept aside by an attempt that died is the one to go back to only if no other runs.
        const leftover = await engine.inspect(aside);
        let old: ContainerInfo | undefined = current;
        if (leftover && current) await engine.remove(leftover.Id);
        else if (leftover && !current) old = leftover;
        if (current) {
          beat({ phase: `stopping ${input.container} (${current.Config.Image})` });
          await engine.stop(current.Id);
          await engine.rename(current.Id, aside);
        }
        beat({ phase: `starting ${input.container} (${want})` });
        const id = await engine.create(input.container, {
          image: want,
          env,
          ports: input.ports,
          labels: { 'stackwire.component': input.component, 'stackwire.deployment': input.deploymentId, 'stackwire.version': input.version },
        });
        await engine.start(id);
        const state = await awaitHealthy(engine, id, input.healthTimeoutSeconds, beat);
        if (state !== 'healthy' && state !== 'running') {
          // Not healthy: the new container goes, the previous one runs again under its name.
          await engine.remove(id);
          if (old) {
            await engine.rename(old.Id, input.container);
            await engine.start(old.Id);
          }
          throw failure(
            `container ${input.container} (${want}) is not healthy: ${state}; ${old ? `the previous container (${old.Config.Image}) runs again` : 'there was no previous container'}`,
            'ContainerUnhealthy',
          );
        }
        if (old) await engine.remove(old.Id);
        return { container: input.container, containerId: id, image: want, previousImage: old?.Config.Image ?? null, outcome: state };
      } catch (err) {
        if (err instanceof DockerError)
          throw failure(`${input.component} in ${input.region}: ${err.message}`, err.status === 0 ? 'DockerUnreachable' : 'DockerFailed');
        throw err;
      }
    },
  };
}
