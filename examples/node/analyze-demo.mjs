// Analyze the embedded demo cluster and print the largest savings.
//   node examples/node/analyze-demo.mjs
import { demoCluster, analyze } from 'cloudoptim'

const cluster = demoCluster()
const report = await analyze(cluster)
const totals = report.totals
console.log(`${cluster.name}: $${totals.monthly_savings_usd.toFixed(2)}/month of $${report.costs.monthly_usd.toFixed(2)}`)
for (const r of report.recommendations.slice(0, 5)) {
  console.log(r.monthly_savings_usd.toFixed(2).padStart(9), r.risk.level.padEnd(6), r.title)
}
