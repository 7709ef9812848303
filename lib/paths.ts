/** Where the built pieces live (after `npm run build`, which npm start and npm test run). */
import path from 'node:path';
import { PROJECT_ROOT } from './config.js';

export const NODE = process.execPath;
export const WORKFLOW_BUNDLE = path.join(PROJECT_ROOT, 'dist', 'workflow-bundle.js');
export const WORKER_ENTRY = path.join(PROJECT_ROOT, 'dist', 'workers', 'worker.js');
export const API_ENTRY = path.join(PROJECT_ROOT, 'dist', 'api', 'server.js');
export const CLI_ENTRY = path.join(PROJECT_ROOT, 'bin', 'stackwire.js');
