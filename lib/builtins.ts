/** Built-in actions: part of Stackwire itself, registered in the catalog at start like any other action. */
import type { ActionSpec } from '../common/types.js';

export const BUILTIN_ACTIONS: Omit<ActionSpec, 'version'>[] = [
  {
    name: 'core.ingest',
    pack: 'core',
    description: 'Ingest a scripts repository (or a folder on the worker) into the action catalog, so a pipeline or a rule can keep it in sync on every push.',
    runner: 'builtin',
    entryPoint: 'core.ingest',
    packDir: '',
    parameters: {
      type: 'object',
      properties: {
        source: { type: 'string', description: 'git URL (https://…, ssh://…, file://…) or an absolute folder path on the worker', position: 0 },
        ref: { type: 'string', description: 'branch or tag to check out (git sources)' },
        pack: { type: 'string', description: 'pack name for the actions', pattern: '^[a-z][a-z0-9_-]{0,62}$' },
        mode: {
          type: 'string',
          enum: ['apply', 'dry-run', 'check'],
          default: 'apply',
          description: 'apply changes, only show them, or fail when the catalog differs',
        },
      },
      required: ['source', 'pack'],
      additionalProperties: false,
    },
    timeoutSeconds: 1800,
    maxAttempts: 1,
    contentHash: 'builtin:core.ingest:1',
    origin: 'builtin',
  },
];
