/**
 * Sensors: long-running watchers that emit trigger instances, each a workflow `sensor.<name>` on a
 * region's task queue (workflows/sensors.ts).
 *
 *   POST   /api/v1/sensors         check the definition (kind, interval, the Sensu backend, the git URL
 *                                  policy, the action and its parameters), then start it; 409 if it runs
 *   GET    /api/v1/sensors         every sensor, running or not (Temporal visibility, newest run of each
 *                                  id): definition from the memo, last poll from the `sensorStatus` query
 *                                  of a running one, events emitted from the trigger instances (Postgres)
 *   GET    /api/v1/sensors/:name   one sensor, the same view: one describe and one query (what to poll)
 *   DELETE /api/v1/sensors/:name   cancel its workflow (a script sensor's process group is killed)
 *
 * sensu and git sensors run on the first region's queue (their activities only read); a script sensor
 * on its action's region (or the one asked for), like a run of that action.
 */
import { Router } from 'express';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowExecutionInfo,
} from '@temporalio/client';
import type {
  SensorCreateRequest,
  SensorCreateResponse,
  SensorDeleteResponse,
  SensorKind,
  SensorListResponse,
  SensorView,
} from '../common/api-types-sensors.js';
import { maskParameters } from '../common/argv.js';
import { SearchAttributes, regionTaskQueue } from '../common/constants.js';
import { gitUrlProblem } from '../common/git-url.js';
import { ParameterError, validateParameters } from '../common/parameters.js';
import {
  DEFAULT_SENSOR_INTERVAL,
  GIT_BRANCH,
  SENSOR_WORKFLOW_TYPES,
  SENSU_NAMESPACE,
  sensorIntervalSeconds,
  sensorSource,
  sensorTriggerType,
  sensorWorkflowId,
  type SensorStatus,
} from '../common/sensors.js';
import type { ActionSpec } from '../common/types.js';
import { getCurrentAction } from '../db/actions.js';
import { triggerCountsBySource } from '../db/sensors.js';
import { sealForRun } from './execution-start.js';
import { sensorStatusQuery } from '../workflows/definitions.js';
import { gitSensor, scriptSensor, sensuSensor } from '../workflows/index.js';
import type { RouterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { principal, route } from './http.js';
import { checkPackScope } from './security/permissions.js';

/** Fields each kind takes besides name, kind, interval and region. */
const KIND_FIELDS: Record<SensorKind, (keyof SensorCreateRequest)[]> = { sensu: ['namespace'], git: ['url', 'branch'], script: ['action', 'parameters'] };
/** How long the list waits for each running sensor's status query; one sensor's view waits longer (a loaded worker answers in seconds). */
const STATUS_TIMEOUT_MS = 3000;
const ONE_STATUS_TIMEOUT_MS = 10_000;

function bad(message: string): ApiError {
  return new ApiError(400, 'invalid_sensor', message);
}

interface Memo {
  kind: SensorKind;
  interval: string;
  region: string;
  triggerType: string;
  definition: Record<string, unknown>;
  createdBy: string;
  createdAt: string;
}

/** The answer of a running sensor's status query, or undefined when it does not answer in time. */
async function statusOf(client: Client, workflowId: string, timeoutMs: number): Promise<SensorStatus | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
  try {
    return await Promise.race([client.workflow.getHandle(workflowId).query(sensorStatusQuery), timeout]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/** What the API shows of one sensor: its newest run's memo and status, its last poll (asked of it, when it runs), its events. */
async function viewOf(
  client: Client,
  w: Omit<WorkflowExecutionInfo, 'raw'>,
  name: string,
  emitted: { count: number; lastAt: Date | null } | undefined,
  timeoutMs: number,
): Promise<SensorView> {
  const memo = (w.memo ?? {}) as Partial<Memo>;
  const kind = memo.kind ?? ((Object.entries(SENSOR_WORKFLOW_TYPES).find(([, t]) => t === w.type)?.[0] ?? 'script') as SensorKind);
  const running = w.status.name === 'RUNNING';
  const status = running ? await statusOf(client, w.workflowId, timeoutMs) : undefined;
  return {
    name,
    kind,
    workflowId: w.workflowId,
    status: w.status.name.toLowerCase(),
    triggerType: memo.triggerType ?? sensorTriggerType(kind, name),
    interval: memo.interval ?? '',
    region: memo.region ?? '',
    definition: memo.definition ?? {},
    createdBy: memo.createdBy ?? '',
    createdAt: memo.createdAt ?? w.startTime.toISOString(),
    eventsEmitted: emitted?.count ?? 0,
    lastEventAt: emitted?.lastAt?.toISOString() ?? null,
    lastPollAt: status?.lastPollAt ?? null,
    polls: status ? status.polls : null,
    ...(kind === 'script' ? { starts: status ? status.starts : null } : {}),
    lastError: status?.lastError ?? null,
    details: status?.details ?? null,
  };
}

/** The newest run of sensor `name` (describe: no visibility lag), or a 404 that says how to find one. */
async function describeSensor(client: Client, name: string): Promise<WorkflowExecutionDescription> {
  const workflowId = sensorWorkflowId(name);
  let d;
  try {
    d = await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'sensor_not_found', `no sensor ${JSON.stringify(name)}; GET /api/v1/sensors lists them.`);
    throw err;
  }
  if (!Object.values(SENSOR_WORKFLOW_TYPES).includes(d.type as never))
    throw new ApiError(404, 'sensor_not_found', `${workflowId} is a ${d.type}, not a sensor.`);
  return d;
}

export function sensorsRouter({ client, pool, config, http, logger }: RouterDeps): Router {
  const router = Router();

  route(router, 'POST /api/v1/sensors', http, async (req, res) => {
    const p = principal(req);
    const body = req.body as SensorCreateRequest;
    const { name, kind } = body;
    req.audit = { target: sensorWorkflowId(name), parameters: { kind, interval: body.interval ?? null } };
    const foreign = (Object.keys(KIND_FIELDS) as SensorKind[])
      .filter((k) => k !== kind)
      .flatMap((k) => KIND_FIELDS[k])
      .filter((f) => body[f] !== undefined);
    if (foreign.length) throw bad(`${foreign.join(', ')}: not a field of a ${kind} sensor (it takes ${KIND_FIELDS[kind].join(', ')}, interval and region).`);
    const interval = body.interval ?? DEFAULT_SENSOR_INTERVAL[kind];
    const intervalSeconds = sensorIntervalSeconds(interval);
    if (intervalSeconds === undefined) throw bad(`interval: ${JSON.stringify(interval)} is not a duration from 1 s to 1 day (e.g. "10s", "5m", "1h").`);
    if (body.region !== undefined && !config.regions.includes(body.region))
      throw bad(`region: ${JSON.stringify(body.region)} is not a configured region; use one of ${config.regions.join(', ')}.`);
    const createdAt = new Date().toISOString();
    const common = { name, interval, intervalSeconds, createdBy: p.actor };
    let region = body.region ?? config.regions[0];
    let definition: Record<string, unknown>;
    let start: (taskQueue: string, extra: { summary: string }) => Promise<unknown>;
    const opts = (taskQueue: string, summary: string, memo: Memo, action?: string) => ({
      workflowId: sensorWorkflowId(name),
      taskQueue,
      memo: memo as unknown as Record<string, unknown>,
      staticSummary: summary,
      staticDetails: `sensor ${name} (${kind}), created by ${p.actor} at ${createdAt}; emits ${memo.triggerType}; DELETE /api/v1/sensors/${name} stops it`,
      typedSearchAttributes: [
        { key: SearchAttributes.Trigger, value: 'sensor' },
        { key: SearchAttributes.Actor, value: p.actor },
        { key: SearchAttributes.Region, value: region },
        ...(action ? [{ key: SearchAttributes.Action, value: action }] : []),
      ],
    });
    const memoOf = (def: Record<string, unknown>): Memo => ({
      kind,
      interval,
      region,
      triggerType: sensorTriggerType(kind, name),
      definition: def,
      createdBy: p.actor,
      createdAt,
    });

    if (kind === 'sensu') {
      if (!config.sensu)
        throw bad('no Sensu backend is configured (SENSU_API_URL and SENSU_API_KEY on the API and the workers): a sensu sensor has nothing to poll.');
      const namespace = body.namespace ?? config.sensu.namespace;
      if (!SENSU_NAMESPACE.test(namespace)) throw bad(`namespace: ${JSON.stringify(namespace)} is not a Sensu namespace name.`);
      definition = { namespace };
      start = (q, { summary }) => client.workflow.start(sensuSensor, { ...opts(q, summary, memoOf(definition)), args: [{ ...common, region, namespace }] });
    } else if (kind === 'git') {
      if (body.url === undefined) throw bad('url is required for a git sensor: the repository to watch (https://…, ssh://… or, when allowed, a local path).');
      const problem = gitUrlProblem(body.url, config.git);
      if (problem) throw bad(problem);
      const branch = body.branch ?? 'main';
      if (!GIT_BRANCH.test(branch)) throw bad(`branch: ${JSON.stringify(branch)} is not a branch name.`);
      definition = { url: body.url, branch };
      start = (q, { summary }) =>
        client.workflow.start(gitSensor, { ...opts(q, summary, memoOf(definition)), args: [{ ...common, region, url: body.url!, branch }] });
    } else {
      if (body.action === undefined)
        throw bad('action is required for a script sensor: the action (pack.action) whose process prints one JSON object per line.');
      const action: ActionSpec | undefined = await getCurrentAction(pool, body.action);
      if (!action) throw bad(`action: no action named ${JSON.stringify(body.action)} in the catalog (GET /api/v1/actions lists them).`);
      checkPackScope(p, action.pack, 'sensors.manage');
      if (action.runner === 'builtin') throw bad(`action: ${action.name} is a built-in, not a script; a script sensor runs a script that prints JSON lines.`);
      if (body.region !== undefined && action.region && action.region !== body.region)
        throw bad(`region: ${action.name} runs only in ${action.region}; leave the region out or set it to ${action.region}.`);
      region = body.region ?? action.region ?? config.regions[0];
      let parameters: Record<string, unknown>;
      try {
        parameters = validateParameters(action, body.parameters ?? {});
      } catch (err) {
        if (err instanceof ParameterError) throw new ApiError(400, 'invalid_parameters', err.message, err.problems);
        throw err;
      }
      const sealed = sealForRun(action, parameters, config.secretKey);
      definition = { action: action.name, actionVersion: action.version, parameters: maskParameters(action, parameters) };
      req.audit.parameters = { ...req.audit.parameters, ...definition };
      start = (q, { summary }) =>
        client.workflow.start(scriptSensor, {
          ...opts(q, summary, memoOf(definition), action.name),
          args: [{ ...common, region, action, parameters: sealed }],
        });
    }
    req.audit.parameters = { ...req.audit.parameters, region, ...definition };
    const taskQueue = regionTaskQueue(region);
    const what =
      kind === 'sensu'
        ? `Sensu events of ${String(definition.namespace)}`
        : kind === 'git'
          ? `${String(definition.url)} ${String(definition.branch)}`
          : String(definition.action);
    try {
      await start(taskQueue, { summary: `sensor ${name}: ${kind} (${what}), every ${interval}` });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError)
        throw new ApiError(409, 'sensor_exists', `a sensor named ${name} is running; delete it first (stackwire sensor delete ${name}).`);
      throw err;
    }
    logger.info({ sensor: name, kind, region, actor: p.actor }, 'sensor started');
    res.status(201).json({
      name,
      kind,
      workflowId: sensorWorkflowId(name),
      taskQueue,
      region,
      interval,
      triggerType: sensorTriggerType(kind, name),
    } satisfies SensorCreateResponse);
  });

  route(router, 'GET /api/v1/sensors', http, async (_req, res) => {
    const types = Object.values(SENSOR_WORKFLOW_TYPES)
      .map((t) => `'${t}'`)
      .join(', ');
    // The newest run of each sensor id (older ones continued as new, or a deleted sensor created again).
    const newest = new Map<string, WorkflowExecutionInfo>();
    let scanned = 0;
    for await (const w of client.workflow.list({ query: `WorkflowType IN (${types})` })) {
      const seen = newest.get(w.workflowId);
      if (!seen || w.startTime > seen.startTime) newest.set(w.workflowId, w);
      if (++scanned >= 5000) break;
    }
    const infos = [...newest.values()].filter((w) => w.workflowId.startsWith('sensor.')).sort((a, b) => (a.workflowId < b.workflowId ? -1 : 1));
    const names = infos.map((w) => w.workflowId.slice('sensor.'.length));
    const counts = await triggerCountsBySource(pool, names.map(sensorSource));
    const sensors: SensorView[] = await Promise.all(infos.map((w, i) => viewOf(client, w, names[i], counts.get(sensorSource(names[i])), STATUS_TIMEOUT_MS)));
    res.json({ sensors } satisfies SensorListResponse);
  });

  route(router, 'GET /api/v1/sensors/:name', http, async (req, res) => {
    const { name } = req.params;
    const d = await describeSensor(client, name);
    const counts = await triggerCountsBySource(pool, [sensorSource(name)]);
    res.json(await viewOf(client, d, name, counts.get(sensorSource(name)), ONE_STATUS_TIMEOUT_MS));
  });

  route(router, 'DELETE /api/v1/sensors/:name', http, async (req, res) => {
    const { name } = req.params;
    const workflowId = sensorWorkflowId(name);
    req.audit = { target: workflowId, parameters: {} };
    const h = client.workflow.getHandle(workflowId);
    const d = await describeSensor(client, name);
    if (d.status.name !== 'RUNNING') {
      res.json({ name, workflowId, cancelled: false, status: d.status.name.toLowerCase() } satisfies SensorDeleteResponse);
      return;
    }
    // A sensor continues as new every few hundred polls. A cancel that reaches a run in the moment it
    // continues as new is lost with that run (the new run never sees it), so each new run seen while
    // waiting is cancelled too. A script sensor waits for its process group to be gone; a few seconds at most.
    const cancelled = new Set<string>();
    let status = 'cancelling';
    const deadline = Date.now() + 15_000;
    for (let runId = d.runId; ;) {
      if (!cancelled.has(runId)) {
        await client.workflow
          .getHandle(workflowId, runId)
          .cancel()
          .catch((err: unknown) => {
            // That run closed meanwhile (continued as new, or ended): the next describe finds what runs now.
            if (!(err instanceof WorkflowNotFoundError)) throw err;
          });
        cancelled.add(runId);
      }
      const now = await h.describe();
      // A run of another chain (the sensor created again meanwhile) is not this delete's to cancel.
      const chain = (x: WorkflowExecutionDescription) => x.raw.workflowExecutionInfo?.firstRunId || undefined;
      if (now.status.name !== 'RUNNING' || (chain(d) !== undefined && chain(now) !== chain(d))) {
        status = now.status.name === 'RUNNING' ? 'cancelled' : now.status.name.toLowerCase();
        break;
      }
      runId = now.runId;
      if (Date.now() >= deadline) break;
      if (cancelled.has(runId)) await new Promise((r) => setTimeout(r, 200));
    }
    logger.info({ sensor: name, actor: principal(req).actor, status }, 'sensor deleted');
    res.json({ name, workflowId, cancelled: true, status } satisfies SensorDeleteResponse);
  });

  return router;
}
