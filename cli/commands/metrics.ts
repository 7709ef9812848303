/**
 * stackwire metrics delivery: deploys per day and per developer or component, lead time, change failure
 * rate and time to restore of an environment (GET /api/v1/metrics/delivery), as figures and bar charts.
 */
import type { Command } from 'commander';
import { DELIVERY_GROUPINGS, type DeliveryGrouping, type DeliveryMetricsQuery, type DeliveryMetricsResponse } from '../../common/api-types.js';
import { SOT_NAME } from '../../common/validation.js';
import { WHEN_FORMS, parseWhen } from '../../common/when.js';
import { BAR_FAILED, BAR_OK, bar, barScale, formatDuration, formatNumber, formatRate } from '../chart.js';
import { ExitError, client, listOption, out, printJson, table } from '../shared.js';

interface DeliveryOptions {
  since?: string;
  until?: string;
  by?: string;
  env: string;
  component?: string;
  deploys?: boolean;
  json?: boolean;
}

function when(flag: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const t = parseWhen(text, Date.now());
  if (!t) throw new ExitError(2, `${flag} ${JSON.stringify(text)} is not a point in time: give ${WHEN_FORMS}.`);
  return t.toISOString();
}

/** The request, or exit 2 naming the option that is wrong. */
export function deliveryQuery(o: DeliveryOptions): DeliveryMetricsQuery {
  if (o.by !== undefined && !(DELIVERY_GROUPINGS as readonly string[]).includes(o.by))
    throw new ExitError(2, `--by ${JSON.stringify(o.by)} is not a grouping: use ${DELIVERY_GROUPINGS.join(' or ')}.`);
  if (!SOT_NAME.test(o.env)) throw new ExitError(2, `--env ${JSON.stringify(o.env)} is not an environment name (lower-case letters, digits and -).`);
  const components = listOption(o.component);
  const bad = components?.find((c) => !SOT_NAME.test(c));
  if (bad !== undefined) throw new ExitError(2, `--component: ${JSON.stringify(bad)} is not a component name (lower-case letters, digits and -).`);
  if (components !== undefined && !components.length) throw new ExitError(2, '--component names no component; leave it out for all of them.');
  const since = when('--since', o.since);
  const until = when('--until', o.until);
  return {
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
    ...(o.by ? { by: o.by as DeliveryGrouping } : {}),
    environment: o.env,
    ...(components ? { component: components.join(',') } : {}),
    ...(o.deploys ? { deploys: 'true' as const } : {}),
  };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The figures, then a bar chart of deploys per day and one per group. */
export function renderDelivery(m: DeliveryMetricsResponse): string {
  const t = m.totals;
  const lines: string[] = [];
  lines.push(
    `Delivery metrics of ${m.environment}${m.components ? ` (${m.components.join(', ')})` : ''}: ${m.since} to ${m.until} (${formatNumber(m.days)} days)`,
  );
  const figures: string[][] = [
    ['Deploys:', `${t.deploys} (${t.succeeded} succeeded, ${t.failed} failed), ${formatNumber(t.deploysPerDay)} a day`],
    [
      'Developers:',
      `${t.developers}${t.deploysPerDeveloperPerDay === null ? '' : `, ${formatNumber(t.deploysPerDeveloperPerDay)} deploys per developer per day`}`,
    ],
    ['Change failure rate:', `${formatRate(t.changeFailureRate)}${t.deploys ? ` (${t.failed} of ${t.deploys})` : ''}`],
    [
      'Lead time:',
      t.leadTime.count
        ? `median ${formatDuration(t.leadTime.medianSeconds)}, mean ${formatDuration(t.leadTime.meanSeconds)} ` +
          `(${plural(t.leadTime.count, 'deploy')}: ${t.leadTime.fromCommit} from the commit, ${t.leadTime.fromVersion} from the version's first record)`
        : '- (no succeeded deploy)',
    ],
    [
      'Time to restore:',
      t.timeToRestore.count || t.timeToRestore.notRestored
        ? `median ${formatDuration(t.timeToRestore.medianSeconds)}, mean ${formatDuration(t.timeToRestore.meanSeconds)} ` +
          `(${t.timeToRestore.count} restored, ${t.timeToRestore.notRestored} not yet)`
        : '- (no failed deploy)',
    ],
  ];
  if (t.running || t.cancelled) figures.push(['Not counted:', `${t.running} running, ${t.cancelled} cancelled`]);
  lines.push(table(figures), '');

  const dayScale = barScale(Math.max(0, ...m.perDay.map((d) => d.deploys)));
  lines.push(`Deploys per day (${BAR_OK} succeeded, ${BAR_FAILED} failed${dayScale > 1 ? `; one character is up to ${dayScale} deploys` : ''})`);
  lines.push(table(m.perDay.map((d) => [d.day, bar(d.deploys - d.failed, d.failed, dayScale), String(d.deploys)])), '');

  lines.push(`Deploys per ${m.by}`);
  if (!m.groups.length) lines.push('(no deploys)');
  else {
    const groupScale = barScale(Math.max(...m.groups.map((g) => g.deploys)));
    lines.push(
      table([
        [m.by.toUpperCase(), `DEPLOYS${groupScale > 1 ? ` (one character is up to ${groupScale})` : ''}`, '', 'CFR', 'LEAD TIME', 'TIME TO RESTORE'],
        ...m.groups.map((g) => [
          g.key,
          bar(g.succeeded, g.failed, groupScale),
          String(g.deploys),
          formatRate(g.changeFailureRate),
          formatDuration(g.leadTime.medianSeconds),
          formatDuration(g.timeToRestore.medianSeconds),
        ]),
      ]),
    );
    lines.push('(lead time and time to restore: medians)');
  }
  if (m.deploys) {
    lines.push('', `Deploys${m.deploysOmitted ? ` (the newest ${m.deploys.length}; ${m.deploysOmitted} more)` : ''}`);
    lines.push(
      table([
        ['STARTED', 'COMPONENT', 'VERSION', 'DEVELOPER', 'STATUS', 'LEAD TIME', 'FROM', 'TIME TO RESTORE'],
        ...m.deploys.map((d) => [
          d.startedAt,
          d.component,
          d.version,
          d.developer,
          d.status,
          formatDuration(d.leadTimeSeconds),
          d.leadTimeFrom ?? '-',
          d.status === 'failed' && d.timeToRestoreSeconds === null ? 'not yet' : formatDuration(d.timeToRestoreSeconds),
        ]),
      ]),
    );
  }
  return lines.join('\n');
}

export function registerMetricsCommands(program: Command): void {
  const metrics = program.command('metrics').description('figures Stackwire measures from its own records');
  metrics
    .command('delivery')
    .description(
      'deploys per day and per developer or component, lead time (commit to production), change failure rate and time to restore ' +
        '(definitions: README, "Delivery metrics")',
    )
    .option('--since <when>', `start of the window (default 30d): ${WHEN_FORMS}`)
    .option('--until <when>', 'end of the window, excluded (default now); same forms as --since')
    .option('--by <grouping>', `group the figures per ${DELIVERY_GROUPINGS.join(' or ')} (default developer)`)
    .option('--env <environment>', 'the environment', 'production')
    .option('--component <names>', 'only these components (comma-separated)')
    .option('--deploys', 'also list the deploys (newest first, at most 1000)')
    .option('--json', 'print as JSON')
    .action(async (opts: DeliveryOptions, cmd: Command) => {
      const m = await client(cmd).deliveryMetrics(deliveryQuery(opts));
      if (opts.json) return printJson(m);
      out(renderDelivery(m));
    });
}
