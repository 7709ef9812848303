/**
 * Ingest reports by reference: an ingest answers 202 with its id; its report — a summary, and one item
 * per action, warning, unsupported file and changed pack file — is read from Postgres, paged, so no
 * request, response or workflow payload grows with the size of the pack.
 */
import type { IngestCounts, IngestMode } from './api-types.js';
import type { PackRef } from './types.js';

export type IngestStatus = 'running' | 'succeeded' | 'failed';

/** The counts of a report: what the packIngest workflow returns (a few hundred bytes whatever the pack). */
export interface IngestSummary {
  /** The ingest's id (its workflow id). */
  id: string;
  pack: string;
  mode: IngestMode;
  source: Record<string, unknown>;
  packVersion?: PackRef;
  files: number;
  summary: IngestCounts;
  /** Pack files added, changed and removed against the catalog (the paths are items of kind `file`). */
  fileChanges: { added: number; changed: number; removed: number };
  drift: boolean;
}

/** POST /api/v1/packs/:pack/ingest (202): the ingest runs; its report is at `links.report`. */
export interface IngestStartResponse {
  id: string;
  workflowId: string;
  pack: string;
  mode: IngestMode;
  links: { report: string; items: string };
}

/** GET /api/v1/ingests/:id[?wait=S] */
export type IngestView = Partial<Omit<IngestSummary, 'id' | 'pack' | 'mode' | 'source'>> &
  Pick<IngestSummary, 'id' | 'pack' | 'mode' | 'source'> & {
    workflowId: string;
    status: IngestStatus;
    actor: string | null;
    region: string | null;
    createdAt: string;
    finishedAt: string | null;
    /** Why it failed (nothing was changed). */
    error?: string;
    /** Items of each kind (read them with GET …/items?kind=). */
    items: Record<IngestItemKind, number>;
  };

export type IngestItemKind = 'action' | 'warning' | 'unsupported' | 'file';

export type IngestItem =
  | {
      seq: number;
      kind: 'action';
      name: string;
      change: 'added' | 'changed' | 'unchanged' | 'removed';
      version?: number;
      details?: string[];
      /** Absent for a removed action. */
      sourcePath?: string;
      framework?: string;
      /** The generated metadata (absent for a removed action). */
      yaml?: string;
    }
  | { seq: number; kind: 'warning'; file: string; line: number | null; message: string }
  | { seq: number; kind: 'unsupported'; file: string; reason: string }
  | { seq: number; kind: 'file'; path: string; change: 'added' | 'changed' | 'removed' };

/** GET /api/v1/ingests/:id/items[?kind=&after=SEQ&limit=N] — `next` is the `after` of the next page, null at the end. */
export interface IngestItemsResponse {
  items: IngestItem[];
  next: number | null;
}
