/** Shapes that cross the boundary between API, workflows and activities. Pure types only. */

export type Runner = 'python' | 'shell' | 'node' | 'exec' | 'st2-python' | 'st2-remote' | 'builtin';

/** How one parameter becomes argv: a positional slot or a flag. */
export interface ArgSpec {
  /** 0-based position among positional arguments. */
  position?: number;
  /** The flag as a human types it, e.g. "--threshold" or "-v". A flag ending in "=" is joined to its value ("--name=value"). */
  flag?: string;
  /** Boolean parameter's flag for false (--no-wait), when the script has one. */
  flagFalse?: string;
  /** Integer parameter given as the flag repeated N times (argparse action="count", e.g. -vvv). */
  count?: boolean;
  /** Array parameter given as one flag followed by all values (argparse nargs="+"/"*" on an option). */
  spread?: boolean;
  /** Goes before the action's argv prefix (a top-level option of a script with sub-commands). */
  scope?: 'global';
}

/** A parameter's JSON Schema, with Stackwire's argv and secrecy extensions. */
export interface ParameterSchema extends ArgSpec {
  type?: 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object';
  description?: string;
  default?: unknown;
  enum?: unknown[];
  items?: { type?: string; enum?: unknown[] };
  minimum?: number;
  maximum?: number;
  pattern?: string;
  secret?: boolean;
}

export interface ActionParameters {
  type: 'object';
  properties: Record<string, ParameterSchema>;
  required: string[];
  additionalProperties: false;
  /** Groups of parameters that cannot be given together (argparse mutually exclusive groups). */
  exclusive?: string[][];
  /** The script understands "--" as the end of options: put it before positionals that start with "-". */
  endOfOptions?: boolean;
  /** Groups of which exactly one must be given (argparse add_mutually_exclusive_group(required=True)). */
  oneRequired?: string[][];
  /** StackStorm local-shell-script conventions for argv (imported StackStorm actions). */
  st2Args?: boolean;
  /** A StackStorm local-shell-cmd action: its `cmd` parameter is the command, with {{ parameter }} templates (common/st2-cmd.ts). */
  st2Cmd?: boolean;
  /** A StackStorm remote-shell-cmd (`cmd`) or remote-shell-script (`script`) action, run over SSH by the shim. */
  st2Remote?: 'cmd' | 'script';
  /** A StackStorm sensor class, run by the shim's --sensor mode (a script sensor's action). */
  st2Sensor?: { className: string; pollInterval: number };
  /** The `env` parameter is the script's environment (StackStorm's runner parameter), not an argument. */
  st2Env?: boolean;
}

/** An action as the catalog holds it and as a run is pinned to it. */
export interface ActionSpec {
  name: string;
  pack: string;
  description: string;
  runner: Runner;
  /** Path of the script, relative to packDir. */
  entryPoint: string;
  /** Folder the pack lives in on the worker's machine. */
  packDir: string;
  parameters: ActionParameters;
  /** Seconds before the script is killed. */
  timeoutSeconds: number;
  /** Total attempts (1 = no retry). A usage error (exit 2) is never retried. */
  maxAttempts: number;
  /** Region the action must run in, if any. */
  region?: string;
  contentHash: string;
  version: number;
  /** The content-addressed pack version the script comes from; workers materialise it by hash. */
  packRef?: PackRef;
  /** Path of the script inside its source tree (for ingested actions). */
  sourcePath?: string;
  /** Fixed arguments between global and local parameters, e.g. a sub-command name. */
  argvPrefix?: string[];
  /**
   * Running it twice does no harm: a pipeline may run it as a local activity when its timeout is at
   * most 30 s (metadata or override `idempotent: true`; ingest cannot know).
   */
  idempotent?: boolean;
  /** Where the metadata came from. */
  origin?: 'metadata' | 'inferred' | 'override' | 'stackstorm' | 'builtin';
  warnings?: IngestWarning[];
}

export interface PackRef {
  pack: string;
  version: number;
  manifestHash: string;
}

export interface IngestWarning {
  file: string;
  line: number | null;
  message: string;
}

export interface RunActionInput {
  executionId: string;
  action: ActionSpec;
  /**
   * Validated parameters, defaults applied. Values of secret parameters are sealed
   * ({"$sealed": "v1:…"}); only the activity that runs the script opens them and builds argv.
   */
  parameters: Record<string, unknown>;
  region: string;
  actor: string;
  trigger: string;
  /** Execution this one is a step of, if any. */
  parentId?: string;
  /**
   * Parameters computed at run time (a pipeline step's `with:`): the activity validates them and
   * applies defaults before anything runs; a problem is a non-retryable ActionUsageError.
   */
  validate?: boolean;
  /**
   * Which attempt this is, when the workflow retries by itself (an action run that survives a lost
   * worker: its activity is not retried by Temporal); else Temporal's attempt number.
   */
  attempt?: number;
  /**
   * Run on this bare-metal host over SSH (lib/ssh.ts) instead of on the worker: a deploy leg of a
   * bare-metal component, one host at a time.
   */
  remote?: RemoteHost;
}

/** A bare-metal host of a component, from the source of truth's platform settings. */
export interface RemoteHost {
  host: string;
  port: number;
  user: string;
  /** `secret:<name>`: the private key, opened on the worker. */
  sshKey: string;
  /** known_hosts lines: the only keys the host may present. */
  knownHosts: string;
}

export interface RunActionResult {
  executionId: string;
  status: 'succeeded' | 'failed' | 'timed_out' | 'cancelled';
  exitCode: number | null;
  signal: string | null;
  /** The last lines of output, for a glance; the full (capped) output is in Postgres. */
  stdoutTail: string;
  stderrTail: string;
  durationMs: number;
  worker: string;
  region: string;
}

export interface ActionExecutionInput extends RunActionInput {
  summary?: string;
}

export interface PipelineStep {
  name: string;
  executionId: string;
  action: ActionSpec;
  parameters: Record<string, unknown>;
}

export interface PipelineRunInput {
  pipelineId: string;
  pipeline: string;
  region: string;
  actor: string;
  trigger: string;
  steps: PipelineStep[];
}

export interface PipelineRunResult {
  pipelineId: string;
  status: 'succeeded' | 'failed';
  steps: RunActionResult[];
}

export interface MultiRegionInput {
  executionId: string;
  regions: string[];
  /** One input per region, already validated. */
  runs: ActionExecutionInput[];
}
