/** `npm run bench -- --help`. */
export const HELP = `Usage: npm run bench -- [--only pipeline|ingest|bulk-ingest|rules|webhook|metrics|fleet|memory] [--iterations N] [--steps N] [--scripts N] [--events N] [--rate N] [--seconds N] [--json]

pipeline: Stackwire's orchestration overhead per step against a minimal Temporal workflow and
          against running the scripts directly → bench/results/pipeline-overhead.json
ingest:   ingest of N generated scripts (default 1000): scripts per second and peak memory, first
          ingest and unchanged re-ingest → bench/results/ingest.json
bulk-ingest: N generated scripts (default 20,000) through \`stackwire ingest\` against a real stack
          (API, worker, Temporal, Postgres), first and unchanged → bench/results/bulk-ingest.json
rules:    rule matching: 1,000 rules over 50 trigger types, N payloads (default 200,000) matched on
          one core → bench/results/rule-match.json
webhook:  webhook → workflow started latency, p50/p99, signed deliveries firing a rule at --rate per
          second (default 50) for --seconds (default 30) → bench/results/webhook-latency.json
metrics:  the delivery metrics statement over a year of generated deploys (36,600), with and without
          its indexes → bench/results/delivery-metrics.json
fleet:    200 short action runs on one region with 1, 2 and 4 worker processes (runs per second), and
          the resume time of an idempotent run after its worker's SIGKILL → bench/results/fleet.json
memory:   npm start's resident memory, idle 30 s after ready, per process, in both worker layouts
          (shared, per-role) → bench/results/idle-memory.json`;
