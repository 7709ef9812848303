/** Where the built pieces live (after `npm run build`, which npm start and npm test run). */
import path from 'node:path';
import { PROJECT_ROOT } from './config.js';

export const NODE = process.execPath;
export const WORKFLOW_BUNDLE = path.join(PROJECT_ROOT, 'dist', 'workflow-bundle.js');
export const WORKER_ENTRY = path.join(PROJECT_ROOT, 'dist', 'workers', 'worker.js');
export const API_ENTRY = path.join(PROJECT_ROOT, 'dist', 'api', 'server.js');
export const CLI_ENTRY = path.join(PROJECT_ROOT, 'bin', 'stackwire.js');
/** Runs StackStorm python-script actions (classes with run(**kwargs)); see runners/st2_python_shim.py. */
export const ST2_SHIM = path.join(PROJECT_ROOT, 'runners', 'st2_python_shim.py');
export const ST2_SHIM_TOKEN = 'st2_python_shim.py';
