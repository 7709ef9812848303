/** lib/spawn.ts with the process forked by this one (no spawner: npm start's shared layout, the CLI, ingest). */
import { spawnCases } from './spawn-cases.js';

spawnCases('fork');
