// ESLint flat config: type-aware rules for all TypeScript, and a fence that keeps
// Node.js (and every I/O library) out of deterministic workflow code.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeModules = builtinModules.flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  { ignores: ['.dependency-cruiser.cjs', 'dist/**', 'node_modules/**', '.data/**', 'scripts/bootstrap.js', 'bin/**', 'examples/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read the environment only in lib/config.ts.' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='query'][callee.object.name=/^(pool|client|db)$/]",
          message: 'SQL lives in db/: call a typed function of db/<table family>.ts instead.',
        },
        {
          selector: "CallExpression[callee.property.name='query'][callee.object.property.name=/^(pool|client|db)$/]",
          message: 'SQL lives in db/: call a typed function of db/<table family>.ts instead.',
        },
      ],
    },
  },
  {
    files: ['db/**/*.ts', 'test/**/*.ts', 'scripts/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['lib/config.ts', 'scripts/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['workflows/**/*.ts', 'common/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeModules.map((name) => ({ name, message: 'Workflow code is deterministic: no Node.js modules. Do I/O in activities/.' })),
          patterns: [
            {
              allowTypeImports: true,
              group: [
                '@temporalio/worker',
                '@temporalio/client',
                '@temporalio/activity',
                'pg',
                'express',
                '../lib/*',
                '../activities/*',
                '../db/*',
                '../api/*',
              ],
              message: 'Workflow code may import only @temporalio/workflow, @temporalio/common and common/.',
            },
          ],
        },
      ],
    },
  },
  {
    // The CLI is a client of the HTTP API: it may import common/ (shared types) and lib/, nothing server-side.
    files: ['cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['db', 'ingest', 'api', 'workflows', 'activities', 'sot', 'workers', 'runners'].flatMap((d) => [`../${d}/*`, `../../${d}/*`]),
              message: 'cli/ may import only common/ and lib/: it talks to Stackwire through the HTTP API (cli/api-client.ts).',
            },
          ],
        },
      ],
    },
  },
);
