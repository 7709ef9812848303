/**
 * stackwire webhook create|list|delete   generic webhooks (POST /api/v1/webhooks/<name>)
 * stackwire trigger list|show             trigger instances: what came in, what it matched, what it started
 * stackwire trace <trigger-or-run-id>     the chain from an event to its runs, with their state now
 */
import type { Command } from 'commander';
import type { TraceRun, WebhookCreateRequest } from '../../common/api-types.js';
import { namedEnvValue } from '../../lib/config.js';
import { ExitError, client, out, printJson, table } from '../shared.js';

function traceLines(runs: TraceRun[], indent: string): string[] {
  return runs.flatMap((r) => [
    `${indent}${r.kind}${r.rule ? ` (rule ${r.rule})` : ''}  ${r.workflowId}  ${r.status}${r.error ? `: ${r.error}` : ''}${r.closeTime ? `  ended ${r.closeTime}` : r.startTime ? `  started ${r.startTime}` : ''}`,
    ...traceLines(r.children ?? [], `${indent}    `),
  ]);
}

export function registerTriggerCommands(program: Command): void {
  const webhook = program.command('webhook').description('generic webhooks: POST /api/v1/webhooks/<name> becomes a webhook.<name> trigger for rules');
  webhook
    .command('create')
    .description('declare a webhook proved by an HMAC of its body (hmac) or a token; the secret is generated and shown once unless given; admin')
    .argument('<name>', 'lower-case letters, digits and dashes')
    .option('--auth <hmac|token>', 'how a delivery proves itself', 'hmac')
    .option('--secret-env <NAME>', 'use the secret (≥ 20 characters) in this environment variable instead of generating one')
    .option('--header <name>', 'the header with the signature (hmac, default X-Hub-Signature-256) or the token (default X-Stackwire-Token)')
    .option('--description <text>', 'what sends it')
    .option('--json', 'print as JSON')
    .action(async (name: string, opts: { auth: string; secretEnv?: string; header?: string; description?: string; json?: boolean }, cmd: Command) => {
      if (opts.auth !== 'hmac' && opts.auth !== 'token') throw new ExitError(2, `--auth ${opts.auth}: use hmac or token.`);
      let secret: string | undefined;
      if (opts.secretEnv) {
        secret = namedEnvValue(opts.secretEnv);
        if (secret === undefined) throw new ExitError(2, `--secret-env ${opts.secretEnv}: the environment variable is not set.`);
      }
      const req: WebhookCreateRequest = {
        name,
        auth: opts.auth,
        ...(secret !== undefined ? { secret } : {}),
        ...(opts.header ? { header: opts.header } : {}),
        ...(opts.description ? { description: opts.description } : {}),
      };
      const r = await client(cmd).createWebhook(req);
      if (opts.json) return printJson(r);
      out(`webhook ${r.name}: POST ${r.url} → trigger ${r.triggerType}`);
      out(r.auth === 'hmac' ? `signed: ${r.header}: sha256=<hex HMAC-SHA256 of the body>` : `token in ${r.header} (or Authorization: Bearer)`);
      if (r.secret) out(`${r.auth === 'hmac' ? 'secret' : 'token'} (shown only this once): ${r.secret}`);
    });
  webhook
    .command('list')
    .description('the declared webhooks')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const r = await client(cmd).listWebhooks();
      if (opts.json) return printJson(r);
      if (!r.webhooks.length) return out('no webhooks');
      out(
        table([
          ['NAME', 'AUTH', 'HEADER', 'TRIGGER', 'CREATED BY', 'URL'],
          ...r.webhooks.map((w) => [w.name, w.auth, w.header, w.triggerType, w.createdBy, w.url]),
        ]),
      );
    });
  webhook
    .command('delete')
    .description('remove a webhook: its deliveries are refused from then on; admin')
    .argument('<name>')
    .option('--json', 'print as JSON')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      const r = await client(cmd).deleteWebhook(name);
      if (opts.json) return printJson(r);
      out(`webhook ${name} deleted`);
    });

  const trigger = program.command('trigger').description('trigger instances: every webhook delivery and sensor event, what it matched and started');
  trigger
    .command('list')
    .description('recent trigger instances, newest first')
    .option('--type <type>', 'only this type (webhook.<name>, github.push, sensu.event …)')
    .option('--source <source>', 'only from this source ("webhook alerts", "sensor sensu" …)')
    .option('--limit <n>', 'how many (1-1000)', '50')
    .option('--json', 'print as JSON')
    .action(async (opts: { type?: string; source?: string; limit: string; json?: boolean }, cmd: Command) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ExitError(2, `--limit ${opts.limit}: a whole number from 1 to 1000.`);
      const r = await client(cmd).listTriggers({ limit, ...(opts.type ? { type: opts.type } : {}), ...(opts.source ? { source: opts.source } : {}) });
      if (opts.json) return printJson(r);
      if (!r.triggers.length) return out('no trigger instances');
      out(
        table([
          ['ID', 'TYPE', 'RECEIVED', 'STATUS', 'RULES', 'RUNS'],
          ...r.triggers.map((t) => [t.id, t.type, t.receivedAt, t.status, t.matched.map((m) => m.rule).join(',') || '-', String(t.runs.length)]),
        ]),
      );
    });
  trigger
    .command('show')
    .description('one trigger instance')
    .argument('<id>')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const t = await client(cmd).getTrigger(id);
      if (opts.json) return printJson(t);
      out(`${t.id}  ${t.type} from ${t.source}, received ${t.receivedAt}, ${t.status}${t.note ? ` (${t.note})` : ''}`);
      out(`payload ${t.payloadDigest} (${t.payloadSize} bytes)${t.deliveryId ? `, delivery ${t.deliveryId}` : ''}`);
      out(`rules matched: ${t.matched.map((m) => `${m.rule}@${m.version}`).join(', ') || 'none'}`);
      for (const r of t.runs) out(`  ${r.kind}${r.rule ? ` (rule ${r.rule})` : ''}  ${r.workflowId}${r.error ? `: ${r.error}` : ''}`);
    });

  program
    .command('trace')
    .description('follow a trigger instance, or a run back to its trigger, to every run it started and their state now')
    .argument('<id>', 'a trigger instance id (stackwire trigger list) or a run id (workflow id)')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const r = await client(cmd).trace(id);
      if (opts.json) return printJson(r);
      const t = r.trigger;
      if (t) {
        out(`trigger ${t.id}: ${t.type} from ${t.source}, received ${t.receivedAt}${t.deliveryId ? `, delivery ${t.deliveryId}` : ''}`);
        out(`  payload ${t.payloadDigest} (${t.payloadSize} bytes); rules matched: ${t.matched.map((m) => `${m.rule}@${m.version}`).join(', ') || 'none'}`);
        if (t.note) out(`  ${t.note}`);
      } else if (r.origin) {
        out(
          `${id} was not started by a trigger instance: ${r.origin.kind}${r.origin.schedule ? ` ${r.origin.schedule}` : ''}${r.origin.by ? ` by ${r.origin.by}` : ''}`,
        );
      }
      for (const line of traceLines(r.runs, '  → ')) out(line);
    });
}
