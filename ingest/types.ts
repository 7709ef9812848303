/** Shapes shared by the analysers of a pack (analyze.ts, stackstorm.ts). Pure types. */
import type { ActionSpec, IngestWarning } from '../common/types.js';
import type { PackFile } from '../lib/pack-files.js';

export type IngestedAction = Omit<ActionSpec, 'version' | 'packRef' | 'packDir'> & { framework: string };

export interface Unsupported {
  file: string;
  reason: string;
}

/** What a StackStorm pack's import gives (ingest/stackstorm.ts). */
export interface St2Import {
  actions: IngestedAction[];
  /** Workflows converted to pipeline files, added to the pack version. */
  generated: PackFile[];
  unsupported: Unsupported[];
  warnings: IngestWarning[];
  covered: Set<string>;
}
