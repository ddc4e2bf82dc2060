// The Node side of the bindings overhead benchmark (see run.sh and docs/benchmarks.md).
//
// Loads the cluster written by `gen-cluster` with its usage history and analyses it through the
// `cloudoptim` package, ROUNDS times, printing one JSON line per round like the Rust and Python
// sides. The recommendations are read into JS objects, as a portal would. `free_s` is the time
// to release the round's objects: a full collection (run with --expose-gc) and the turn of the
// event loop in which the addon's finalizers drop the Rust data, timed apart as on the other
// two sides.
//
//     node --expose-gc bench.mjs DIR [ROUNDS]
import { analyze, loadCluster } from 'cloudoptim'

const [dir, roundsArg] = process.argv.slice(2)
const rounds = Number(roundsArg ?? 5)
const usage = [`${dir}/usage-cpu.json`, `${dir}/usage-memory.json`]
if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc')
  process.exit(2)
}
// one round in a function of its own, so nothing of it is reachable once it returns
async function work() {
  const t0 = process.hrtime.bigint()
  const cluster = await loadCluster(`${dir}/cluster.json`, { usage })
  const t1 = process.hrtime.bigint()
  const report = await analyze(cluster)
  const recs = report.recommendations
  const savings = recs.reduce((s, r) => s + r.monthly_savings_usd, 0)
  const t2 = process.hrtime.bigint()
  return { t0, t1, t2, count: recs.length, savings }
}
for (let round = 0; round < rounds; round++) {
  const { t0, t1, t2, count, savings } = await work()
  globalThis.gc()
  await new Promise((resolve) => setImmediate(resolve))
  const t3 = process.hrtime.bigint()
  console.log(JSON.stringify({
    lang: 'node',
    round,
    load_s: Number(t1 - t0) / 1e9,
    analyze_s: Number(t2 - t1) / 1e9,
    free_s: Number(t3 - t2) / 1e9,
    recommendations: count,
    monthly_savings: Math.round(savings * 100) / 100,
  }))
}
