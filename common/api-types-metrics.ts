/**
 * GET /api/v1/metrics/delivery: deploy frequency, lead time, change failure rate and time to restore
 * of one environment over a window, from the deployment records. The figures are defined in the
 * README ("Delivery metrics") and in the route's OpenAPI description (api/routes-metrics.ts).
 */

export const DELIVERY_GROUPINGS = ['developer', 'component'] as const;
export type DeliveryGrouping = (typeof DELIVERY_GROUPINGS)[number];

/** The query (all optional): since (default 30d), until (default now), by (default developer), environment (default production). */
export interface DeliveryMetricsQuery {
  since?: string;
  until?: string;
  by?: DeliveryGrouping;
  environment?: string;
  /** Comma-separated component names: only these. */
  component?: string;
  /** 'true': also list the deploys (newest first, at most 1000). */
  deploys?: 'true' | 'false';
}

/** A set of durations: how many, their median and mean in seconds (null when there are none). */
export interface DurationFigure {
  count: number;
  medianSeconds: number | null;
  meanSeconds: number | null;
}

export interface DeliveryFigures {
  /** Finished deploys (succeeded + failed) started in the window. */
  deploys: number;
  succeeded: number;
  /** Deploys that failed or were rolled back. */
  failed: number;
  /** deploys ÷ the window's length in days. */
  deploysPerDay: number;
  /** failed ÷ deploys; null when there were no deploys. */
  changeFailureRate: number | null;
  /** Of the succeeded deploys: from the commit (or the version's first record) to the deploy's end. */
  leadTime: DurationFigure & { fromCommit: number; fromVersion: number };
  /** Of the failed deploys: from the failed deploy's end to the end of the component's next succeeded deploy. */
  timeToRestore: DurationFigure & { notRestored: number };
}

/** The figures of one developer or one component. */
export interface DeliveryGroup extends DeliveryFigures {
  key: string;
}

/** One UTC day of the window: deploys started that day (failed among them). */
export interface DeliveryDay {
  day: string;
  deploys: number;
  failed: number;
}

/** One deploy run (its region legs together), with what each figure took from it. */
export interface DeliveryDeploy {
  id: string;
  component: string;
  version: string;
  /** The pushed commit's author when a push started it, else the actor. */
  developer: string;
  actor: string;
  triggerId: string | null;
  status: 'succeeded' | 'failed' | 'running' | 'cancelled';
  regions: number;
  startedAt: string;
  finishedAt: string | null;
  commit: string | null;
  committedAt: string | null;
  /** Succeeded deploys: the lead time, and what it was measured from. */
  leadTimeSeconds: number | null;
  leadTimeFrom: 'commit' | 'version' | null;
  /** Failed deploys: when the component's next deploy succeeded, and how long after. */
  restoredAt: string | null;
  timeToRestoreSeconds: number | null;
}

export interface DeliveryMetricsResponse {
  environment: string;
  since: string;
  until: string;
  /** The window's length in days (fractional). */
  days: number;
  by: DeliveryGrouping;
  /** The component filter, or null for all. */
  components: string[] | null;
  totals: DeliveryFigures & {
    /** Distinct developers and components among the deploys. */
    developers: number;
    components: number;
    /** The headline: deploys ÷ developers ÷ days; null when nobody deployed. */
    deploysPerDeveloperPerDay: number | null;
    /** Deploys started in the window but not counted: still running, or cancelled. */
    running: number;
    cancelled: number;
  };
  /** Every UTC day the window touches, oldest first. */
  perDay: DeliveryDay[];
  /** Per developer or component (`by`), most deploys first. */
  groups: DeliveryGroup[];
  /** With deploys=true: the deploys, newest first (at most 1000; `deploysOmitted` more). */
  deploys?: DeliveryDeploy[];
  deploysOmitted?: number;
}
