/**
 * Rules (StackStorm's shape: trigger + criteria + an action or pipeline with mapped parameters):
 *   POST /api/v1/rules/apply          YAML files, validated together against the catalog, then written
 *                                     in one transaction, each changed rule a new version
 *   GET  /api/v1/rules[?trigger=]     the rules          GET /api/v1/rules/:name   one, with its versions
 *   POST /api/v1/rules/:name/delete
 * A rule acts with the authority of whoever applied it: their role and scopes are recorded with it and
 * checked now (every action it names must be in their pack scope) and again when it fires.
 */
import { Router } from 'express';
import type { RuleApplyResponse, RuleGetResponse, RuleListResponse } from '../common/api-types.js';
import type { RuleDef } from '../common/rule.js';
import type { ActionSpec } from '../common/types.js';
import { getCurrentAction, listActions } from '../db/actions.js';
import { inTransaction } from '../db/pool.js';
import { applyRule, deleteRule, sameDefinition, getRule, listRules, notifyRules, ruleVersions } from '../db/rules.js';
import { validateRuleFiles } from '../lib/rule-files.js';
import type { RouterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { principal, route } from './http.js';
import { checkPackScope } from './security/permissions.js';

const targetOf = (d: RuleDef): string =>
  d.action
    ? `action ${d.action.ref}`
    : `pipeline ${d.pipeline?.name ?? '(first)'} of ${d.pipeline?.component !== undefined ? `component ${d.pipeline.component}` : `pack ${d.pipeline?.pack}`}`;

export function rulesRouter({ pool, http, dispatcher }: RouterDeps): Router {
  const router = Router();

  route(router, 'POST /api/v1/rules/apply', http, async (req, res) => {
    const p = principal(req);
    const body = req.body as { files: { path: string; content: string }[]; dryRun?: boolean };
    req.audit = {
      target: body.files
        .map((f) => f.path)
        .join(', ')
        .slice(0, 500),
      parameters: { files: body.files.length, dryRun: body.dryRun === true },
    };
    const actions = new Map<string, ActionSpec>((await listActions(pool)).map((a) => [a.name, a]));
    const r = validateRuleFiles(body.files, { action: (name) => actions.get(name), actionNames: () => [...actions.keys()] });
    if (r.problems.length)
      throw new ApiError(
        400,
        'invalid_rules',
        `the rule files have ${r.problems.length} problem(s); nothing was applied:\n${r.problems.map((x) => `${x.file}:${x.line}:${x.column}: ${x.message}`).join('\n')}`,
        { problems: r.problems },
      );
    for (const { definition: d } of r.rules) {
      if (d.action) checkPackScope(p, (await getCurrentAction(pool, d.action.ref))!.pack, 'executions.run');
      if (d.pipeline?.pack !== undefined) checkPackScope(p, d.pipeline.pack, 'executions.run');
    }
    const sources = new Map(body.files.map((f) => [f.path, f.content]));
    const results: RuleApplyResponse['rules'] = [];
    if (body.dryRun) {
      const current = new Map((await listRules(pool)).map((x) => [x.name, x]));
      for (const { definition: d } of r.rules) {
        const c = current.get(d.name);
        const same = c && sameDefinition(c.definition, d) && c.enabled === (d.enabled ?? true);
        results.push({ name: d.name, outcome: !c ? 'created' : same ? 'unchanged' : 'updated', version: c && same ? c.version : (c?.version ?? 0) + 1 });
      }
      return void res.json({ dryRun: true, rules: results } satisfies RuleApplyResponse);
    }
    await inTransaction(pool, async (db) => {
      for (const { file, definition: d } of r.rules) {
        const out = await applyRule(db, {
          name: d.name,
          enabled: d.enabled ?? true,
          triggerType: d.trigger.type,
          definition: d,
          source: sources.get(file) ?? '',
          file,
          actor: p.actor,
          role: p.role,
          scopes: p.scopes,
        });
        results.push({ name: d.name, ...out });
      }
      if (results.some((x) => x.outcome !== 'unchanged')) await notifyRules(db);
    });
    await dispatcher.reload();
    req.audit.parameters = { ...req.audit.parameters, rules: results.map((x) => `${x.name}@${x.version} ${x.outcome}`) };
    res.json({ dryRun: false, rules: results } satisfies RuleApplyResponse);
  });

  route(router, 'GET /api/v1/rules', http, async (req, res) => {
    const trigger = typeof req.query.trigger === 'string' ? req.query.trigger : undefined;
    const rows = (await listRules(pool)).filter((r) => !trigger || r.triggerType === trigger);
    res.json({
      rules: rows.map((r) => ({
        name: r.name,
        version: r.version,
        enabled: r.enabled,
        trigger: r.triggerType,
        target: targetOf(r.definition as RuleDef),
        description: (r.definition as RuleDef).description ?? '',
        appliedBy: r.appliedBy,
        appliedAt: r.appliedAt.toISOString(),
      })),
    } satisfies RuleListResponse);
  });

  route(router, 'GET /api/v1/rules/:name', http, async (req, res) => {
    const r = await getRule(pool, req.params.name);
    if (!r) throw new ApiError(404, 'rule_not_found', `no rule ${JSON.stringify(req.params.name)}; GET /api/v1/rules lists them.`);
    res.json({
      name: r.name,
      version: r.version,
      enabled: r.enabled,
      definition: r.definition as RuleDef,
      source: r.source,
      file: r.file,
      appliedBy: r.appliedBy,
      appliedAt: r.appliedAt.toISOString(),
      versions: (await ruleVersions(pool, r.name)).map((v) => ({ version: v.version, change: v.change, actor: v.actor, at: v.at.toISOString() })),
    } satisfies RuleGetResponse);
  });

  route(router, 'POST /api/v1/rules/:name/delete', http, async (req, res) => {
    const p = principal(req);
    req.audit = { target: `rule ${req.params.name}`, parameters: {} };
    const deleted = await inTransaction(pool, async (db) => {
      const ok = await deleteRule(db, req.params.name, p.actor);
      if (ok) await notifyRules(db);
      return ok;
    });
    if (!deleted) throw new ApiError(404, 'rule_not_found', `no rule ${JSON.stringify(req.params.name)}; GET /api/v1/rules lists them.`);
    await dispatcher.reload();
    res.json({ name: req.params.name, deleted: true });
  });
  return router;
}
