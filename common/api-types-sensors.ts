/** Request and response types of the sensor routes (POST/GET /api/v1/sensors, DELETE /api/v1/sensors/:name). */

export type SensorKind = 'sensu' | 'git' | 'script';

/** POST /api/v1/sensors: starts workflow `sensor.<name>`. */
export interface SensorCreateRequest {
  /** Lower-case letters, digits and dashes; the workflow is `sensor.<name>`, a script sensor's trigger type `sensor.<name>`. */
  name: string;
  kind: SensorKind;
  /** Between polls (sensu, git; default 30s), or the pause before a script that ended is started again (script; default 10s). */
  interval?: string;
  /** Region whose workers poll or run the script (default: the action's region, else the first configured region). */
  region?: string;
  /** sensu: the Sensu namespace (default: SENSU_NAMESPACE). */
  namespace?: string;
  /** git: the repository, under the git source policy (STACKWIRE_GIT_ALLOWED_HOSTS, STACKWIRE_GIT_ALLOW_FILE). */
  url?: string;
  /** git: the branch to watch (default main). */
  branch?: string;
  /** script: the action (`pack.action`) to run as the sensor's process. */
  action?: string;
  /** script: its parameters, checked against the action's like a run's. */
  parameters?: Record<string, unknown>;
}

export interface SensorCreateResponse {
  name: string;
  kind: SensorKind;
  workflowId: string;
  taskQueue: string;
  region: string;
  interval: string;
  /** What it emits: `sensu.event`, `git.push` or `sensor.<name>`. */
  triggerType: string;
}

/** One sensor (GET /api/v1/sensors): its definition, its workflow's state and what it emitted. */
export interface SensorView {
  name: string;
  kind: SensorKind;
  workflowId: string;
  /** The workflow's status: running, cancelled (deleted), failed, terminated … */
  status: string;
  triggerType: string;
  interval: string;
  region: string;
  /** sensu: {namespace}; git: {url, branch}; script: {action, parameters (secrets masked)}. */
  definition: Record<string, unknown>;
  createdBy: string;
  createdAt: string;
  /** Trigger instances it recorded (from Postgres, every generation and process of it). */
  eventsEmitted: number;
  lastEventAt: string | null;
  /** From the running workflow (null once it is closed or when it did not answer in time). */
  lastPollAt: string | null;
  polls: number | null;
  /** script: processes started so far. */
  starts?: number | null;
  lastError: string | null;
  /** The line the Web UI shows as the workflow's current details. */
  details: string | null;
}

export interface SensorListResponse {
  sensors: SensorView[];
}

export interface SensorDeleteResponse {
  name: string;
  workflowId: string;
  /** False when it had already stopped. */
  cancelled: boolean;
  /** The workflow's status after the request. */
  status: string;
}
