// The same package through its ESM entry (`exports.import`), for TypeScript ES module consumers.
import { analyze, demoCluster } from 'cloudoptim'
import type { Recommendation, ReportJson } from 'cloudoptim'

const report = await analyze(demoCluster())
const recs: Recommendation[] = report.recommendations
const json: ReportJson = report.toJSON()
// @ts-expect-error: typed, not any
const wrong: string = json.totals
export const count: number = recs.length + json.recommendations.length
