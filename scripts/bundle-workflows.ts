/** Bundles workflows/ once at build time; workers load dist/workflow-bundle.js instead of re-bundling at start. */
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PROJECT_ROOT } from '../lib/config.js';

const out = path.join(PROJECT_ROOT, 'dist', 'workflow-bundle.js');
const { code } = await bundleWorkflowCode({
  workflowsPath: path.join(PROJECT_ROOT, 'dist', 'workflows', 'index.js'),
  // Failures raised in workflow code carry their message and stack in an (encrypted) payload too.
  failureConverterPath: path.join(PROJECT_ROOT, 'dist', 'common', 'failure-converter.js'),
  logger: {
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: (m) => console.warn(m),
    error: (m) => console.error(m),
    log: () => undefined,
  },
});
fs.writeFileSync(out, code);
console.log(`workflow bundle: ${path.relative(PROJECT_ROOT, out)} (${(code.length / 1024).toFixed(0)} KiB)`);
