/** The baseline's worker: same topology as Stackwire's (workflow and activities on one queue, eager dispatch). */
import { NativeConnection, Worker } from '@temporalio/worker';
import * as activities from './raw-activities.js';

const [address, taskQueue] = process.argv.slice(2) as [string, string];
const connection = await NativeConnection.connect({ address });
const worker = await Worker.create({
  connection,
  taskQueue,
  workflowsPath: new URL('./raw-workflow.js', import.meta.url).pathname,
  activities,
});
console.log('raw worker ready');
await worker.run();
await connection.close();
