/**
 * A docker deploy leg's platform step (README: Source of truth, Platforms): pull image:version, replace
 * the container (the old one stopped and kept aside, a new one with the same name and settings), wait
 * for its health check; when it is not healthy in time, the new one goes and the old one is started
 * again. Idempotent: a container already running image:version is kept, and its health check decides
 * (a retried attempt, or a rollback to what the failed step already restored); a container kept aside
 * by an attempt that died is the previous one, whatever that attempt left under the name.
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
      // Every second, with the phase it is in: also while one long call runs (the pull of a large image).
      let phase: unknown = { phase: 'starting' };
      const beat = (d: unknown) => {
        phase = d;
        ctx.heartbeat(d);
      };
      // secret:<name> values are opened here, on the region's worker, and go only to the Docker Engine.
      const env = await openSecretRefs(deps, input.env);
      const ticker = setInterval(() => ctx.heartbeat(phase), 1000);
      const want = `${input.image}:${input.version}`;
      const aside = `${input.container}.stackwire-previous`;
      // What a failure after the old container was put aside must undo (the engine, that container, the new one).
      let undo: { engine: DockerEngine; old: ContainerInfo; id?: string } | undefined;
      try {
        const engine = new DockerEngine(input.endpoint);
        beat({ phase: 'inspecting' });
        const current = await engine.inspect(input.container);
        // Kept aside by an attempt of this step that did not finish (its worker died): the previous container.
        const leftover = await engine.inspect(aside);
        const unhealthy = (state: string, old: ContainerInfo | undefined) =>
          failure(
            `container ${input.container} (${want}) is not healthy: ${state}; ${old ? `the previous container (${old.Config.Image}) runs again` : 'there was no previous container'}`,
            'ContainerUnhealthy',
          );
        /** The new container is not healthy: it goes, and the previous one runs again under its name. */
        const restore = async (id: string, old: ContainerInfo | undefined) => {
          await engine.remove(id);
          if (old) {
            await engine.rename(old.Id, input.container);
            await engine.start(old.Id);
          }
        };
        if (current && current.Config.Image === want && current.State.Running) {
          // This image runs already: an attempt that got this far before its worker died, or a rollback to
          // what a failed step restored. Its health check decides all the same.
          const state = await awaitHealthy(engine, current.Id, input.healthTimeoutSeconds, beat);
          if (state !== 'healthy' && state !== 'running') {
            if (!leftover)
              throw failure(
                `container ${input.container} (${want}) is not healthy: ${state}; it is left running (there is no previous container)`,
                'ContainerUnhealthy',
              );
            await restore(current.Id, leftover);
            throw unhealthy(state, leftover);
          }
          if (leftover) await engine.remove(leftover.Id);
          return {
            container: input.container,
            containerId: current.Id,
            image: want,
            previousImage: leftover?.Config.Image ?? null,
            outcome: leftover ? state : 'unchanged',
          };
        }
        beat({ phase: `pulling ${want}` });
        await engine.pull(input.image, input.version);
        let old: ContainerInfo | undefined;
        if (leftover && !current?.State.Running) {
          // An attempt died after it put the running container aside: that one is the previous, and what
          // stands under the name now (created, not started) is the dead attempt's new container.
          old = leftover;
          if (current) await engine.remove(current.Id);
        } else {
          // A container aside while another runs under the name: left by an earlier step that could not
          // remove it after its new container got healthy. The running one is the previous.
          if (leftover) await engine.remove(leftover.Id);
          if (current) {
            old = current;
            beat({ phase: `stopping ${input.container} (${current.Config.Image})` });
            await engine.stop(current.Id);
            await engine.rename(current.Id, aside);
          }
        }
        if (old) undo = { engine, old };
        beat({ phase: `starting ${input.container} (${want})` });
        const id = await engine.create(input.container, {
          image: want,
          env,
          ports: input.ports,
          labels: { 'stackwire.component': input.component, 'stackwire.deployment': input.deploymentId, 'stackwire.version': input.version },
        });
        if (undo) undo.id = id;
        await engine.start(id);
        const state = await awaitHealthy(engine, id, input.healthTimeoutSeconds, beat);
        if (state !== 'healthy' && state !== 'running') {
          undo = undefined;
          await restore(id, old);
          throw unhealthy(state, old);
        }
        undo = undefined;
        if (old) await engine.remove(old.Id);
        return { container: input.container, containerId: id, image: want, previousImage: old?.Config.Image ?? null, outcome: state };
      } catch (err) {
        if (err instanceof DockerError) {
          // The engine refused the new container (a port in use, an image it cannot run) after the old one
          // was put aside: the old one runs again under its name, as far as the engine lets it.
          let restored = '';
          if (undo) {
            const { engine, old, id } = undo;
            restored = await (async () => {
              if (id) await engine.remove(id);
              await engine.rename(old.Id, input.container);
              await engine.start(old.Id);
              return `; the previous container (${old.Config.Image}) runs again`;
            })().catch((e: unknown) => `; the previous container could not be started again: ${(e as Error).message}`);
          }
          throw failure(`${input.component} in ${input.region}: ${err.message}${restored}`, err.status === 0 ? 'DockerUnreachable' : 'DockerFailed');
        }
        throw err;
      } finally {
        clearInterval(ticker);
      }
    },
  };
}
