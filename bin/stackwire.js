#!/usr/bin/env node
// The `stackwire` command. Build first (npm start / npm test / npm run build do it).
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
