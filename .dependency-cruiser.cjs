/**
 * The layering of Stackwire's top-level folders, checked by `npm run lint` (and so by `npm test`).
 * Arrows point the way imports may go; nothing may import "upwards", and nothing may form a cycle.
 *
 *   common  ← sot  ← lib ← db ← ingest ← activities ← workers
 *                         ↖ workflows (common only; type-only imports of activities/ingest for proxies)
 *   api → common, sot, lib, db, workflows (+ type-only ingest)      cli → common, lib
 *   scripts, test, bench: anything (they assemble the whole stack)
 */
const layer = (from, allowed, comment) => ({
  name: `${from}-imports`,
  comment,
  severity: 'error',
  from: { path: `^${from}/` },
  to: { path: '^(common|sot|lib|db|ingest|activities|workflows|api|cli|workers|scripts|test|bench)/', pathNot: `^(${[from, ...allowed].join('|')})/` },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle: move the shared piece down a layer (see the folder READMEs).',
      from: {},
      to: { circular: true, dependencyTypesNot: ['type-only'] },
    },
    layer('common', [], 'common/ is workflow-safe pure code: it imports nothing of ours outside common/.'),
    layer('sot', ['common'], 'sot/ parses and validates the source of truth: pure, on common/ only.'),
    layer('lib', ['common', 'sot'], 'lib/ holds Node-side helpers below the database layer.'),
    layer('db', ['common', 'sot', 'lib'], 'db/ owns the SQL; it builds on common/, sot/ and lib/ only.'),
    layer('ingest', ['common', 'lib', 'db'], 'ingest/ analyses scripts and records packs through db/.'),
    layer('activities', ['common', 'sot', 'lib', 'db', 'ingest'], 'activities/ do the I/O of workflows.'),
    layer('workers', ['common', 'lib', 'db', 'activities'], 'workers/ are entrypoints hosting activities and the workflow bundle.'),
    layer('cli', ['common', 'lib'], 'The CLI is a client of the HTTP API: common/ types and lib/ helpers only.'),
    layer('api', ['common', 'sot', 'lib', 'db', 'workflows', 'ingest'], 'The API validates, authenticates and starts workflows; SQL goes through db/.'),
    {
      name: 'workflows-imports',
      comment: 'Workflow code is deterministic: common/ only (type-only imports of activities/ingest are how proxies get their types).',
      severity: 'error',
      from: { path: '^workflows/' },
      to: { path: '^(sot|lib|db|ingest|activities|api|cli|workers|scripts|test|bench)/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'type-only-ingest',
      comment: 'api/ may use ingest/ types (the ingest report), never its code.',
      severity: 'error',
      from: { path: '^api/' },
      to: { path: '^ingest/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'pg-only-in-db',
      comment: 'Every SQL statement lives in db/: only db/ (and the test/bench/scripts harness) may import pg.',
      severity: 'error',
      from: { pathNot: '^(db|test|scripts|bench)/' },
      to: { path: 'node_modules/(pg|@types/pg)/', dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|examples|\\.data)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
    moduleSystems: ['es6'],
  },
};
