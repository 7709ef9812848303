/**
 * Schedules: a pipeline run on a cron or an interval, as a Temporal Schedule (`schedule.<name>`, visible
 * in the Web UI's Schedules), validated and pinned when it is created exactly like a run started now
 * (api/pipeline-requests.ts). Each firing is a `pipelineRun` whose workflow id is the schedule's
 * `pipeline.<pipeline>.<name>` plus the time Temporal appends.
 *
 *   POST /api/v1/schedules                     create            GET /api/v1/schedules   list
 *   POST /api/v1/schedules/:name/pause|unpause|trigger|delete
 */
import { Router } from 'express';
import { ScheduleAlreadyRunning, ScheduleNotFoundError, type ScheduleOverlapPolicy } from '@temporalio/client';
import type { ScheduleCreateRequest, ScheduleListResponse } from '../common/api-types.js';
import { SearchAttributes, regionTaskQueue } from '../common/constants.js';
import { durationSeconds } from '../common/pipeline.js';
import { pipelineRun } from '../workflows/index.js';
import type { RouterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { principal, route } from './http.js';
import { pipelineRequests } from './pipeline-requests.js';

const OVERLAP: Record<string, ScheduleOverlapPolicy> = {
  skip: 'SKIP',
  'buffer-one': 'BUFFER_ONE',
  'buffer-all': 'BUFFER_ALL',
  'cancel-other': 'CANCEL_OTHER',
  'terminate-other': 'TERMINATE_OTHER',
  'allow-all': 'ALLOW_ALL',
};

export function schedulesRouter({ client, pool, config, http }: RouterDeps): Router {
  const router = Router();
  const { build } = pipelineRequests({ client, pool, config });
  const handle = async (name: string) => {
    const h = client.schedule.getHandle(`schedule.${name}`);
    try {
      await h.describe();
    } catch (err) {
      if (err instanceof ScheduleNotFoundError)
        throw new ApiError(404, 'schedule_not_found', `no schedule ${JSON.stringify(name)}; GET /api/v1/schedules lists them.`);
      throw err;
    }
    return h;
  };

  route(router, 'POST /api/v1/schedules', http, async (req, res) => {
    const p = principal(req);
    const body = req.body as ScheduleCreateRequest;
    if ((body.cron === undefined) === (body.every === undefined))
      throw new ApiError(400, 'invalid_request', 'give either cron (a list of cron expressions, e.g. ["0 3 * * *"]) or every (an interval, e.g. "1h").');
    const every = body.every !== undefined ? durationSeconds(body.every) : undefined;
    if (body.every !== undefined && (every === undefined || every < 1))
      throw new ApiError(400, 'invalid_request', `every: ${JSON.stringify(body.every)} is not an interval of at least 1 s (e.g. "30s", "15m", "1h").`);
    const catchup = body.catchupWindow !== undefined ? durationSeconds(body.catchupWindow) : undefined;
    if (body.catchupWindow !== undefined && catchup === undefined)
      throw new ApiError(400, 'invalid_request', `catchupWindow: ${JSON.stringify(body.catchupWindow)} is not a duration (e.g. "10m").`);
    const { run } = await build(p, { ...body.run, trigger: 'schedule' }, '');
    run.trigger = { kind: 'schedule', schedule: body.name, createdBy: p.actor };
    req.audit = { target: `schedule.${body.name}`, parameters: { pipeline: run.definition.name, cron: body.cron ?? null, every: body.every ?? null } };
    try {
      await client.schedule.create({
        scheduleId: `schedule.${body.name}`,
        // What was asked, as written (Temporal keeps cron expressions as calendars).
        memo: { pipeline: run.definition.name, cron: body.cron ?? [], every: body.every !== undefined ? [body.every] : [] },
        spec: body.cron ? { cronExpressions: body.cron } : { intervals: [{ every: `${every}s` }] },
        action: {
          type: 'startWorkflow',
          workflowType: pipelineRun,
          args: [run],
          taskQueue: regionTaskQueue(run.defaultRegion),
          workflowId: `pipeline.${run.definition.name}.${body.name}`,
          typedSearchAttributes: [
            { key: SearchAttributes.Pipeline, value: run.definition.name },
            { key: SearchAttributes.Trigger, value: 'schedule' },
            { key: SearchAttributes.Actor, value: p.actor },
          ],
        },
        policies: { overlap: OVERLAP[body.overlap ?? 'skip'], ...(catchup !== undefined ? { catchupWindow: `${catchup}s` } : {}) },
        state: { paused: body.paused === true, note: body.note ?? `pipeline ${run.definition.name}, created by ${p.actor}` },
      });
    } catch (err) {
      if (err instanceof ScheduleAlreadyRunning) throw new ApiError(409, 'schedule_exists', `a schedule named ${body.name} exists; delete it first.`);
      throw err;
    }
    res.status(201).json({ name: body.name, scheduleId: `schedule.${body.name}`, pipeline: run.definition.name });
  });

  route(router, 'GET /api/v1/schedules', http, async (_req, res) => {
    const out: ScheduleListResponse['schedules'] = [];
    for await (const s of client.schedule.list()) {
      if (!s.scheduleId.startsWith('schedule.')) continue;
      out.push({
        name: s.scheduleId.slice('schedule.'.length),
        paused: s.state.paused,
        note: s.state.note ?? '',
        pipeline: typeof s.memo?.pipeline === 'string' ? s.memo.pipeline : '',
        cron: Array.isArray(s.memo?.cron) ? (s.memo.cron as string[]) : [],
        every: Array.isArray(s.memo?.every) ? (s.memo.every as string[]) : [],
        recentRuns: (s.info.recentActions ?? []).map((a) => ({ at: a.takenAt.toISOString(), workflowId: a.action.workflow.workflowId })),
        nextRuns: (s.info.nextActionTimes ?? []).slice(0, 3).map((d) => d.toISOString()),
      });
    }
    res.json({ schedules: out } satisfies ScheduleListResponse);
  });

  for (const op of ['pause', 'unpause', 'trigger', 'delete'] as const) {
    route(router, `POST /api/v1/schedules/:name/${op}`, http, async (req, res) => {
      const h = await handle(req.params.name);
      req.audit = { target: `schedule.${req.params.name}`, parameters: {} };
      const who = principal(req).actor;
      if (op === 'pause') await h.pause(`paused by ${who}`);
      else if (op === 'unpause') await h.unpause(`unpaused by ${who}`);
      else if (op === 'trigger') await h.trigger();
      else await h.delete();
      res.json({ name: req.params.name, [op === 'delete' ? 'deleted' : op === 'trigger' ? 'triggered' : 'paused']: op !== 'unpause' });
    });
  }
  return router;
}
