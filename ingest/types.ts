/** Shapes shared by the analysers of a pack (analyze.ts, stackstorm.ts). Pure types. */
import type { ActionSpec } from '../common/types.js';

export type IngestedAction = Omit<ActionSpec, 'version' | 'packRef' | 'packDir'> & { framework: string };

export interface Unsupported {
  file: string;
  reason: string;
}
