// Compiled by `npm run typecheck` (tsc --noEmit), never run: the generated index.d.ts must give
// real types. Every `@ts-expect-error` fails the check if the line compiles, which it would if a
// type were `any`.
import {
  analyze,
  analyzerNames,
  consolidate,
  cpuMillicores,
  demoCluster,
  instanceType,
  loadCluster,
  locate,
  memoryBytes,
  patch,
  planSchema,
  propose,
  reportSchema,
  version,
  Change,
  Cluster,
  Plan,
  Report,
} from 'cloudoptim'
import type {
  AnalyzerContext,
  CustomAnalyzer,
  CustomRecommendation,
  PlanJson,
  PlanNode,
  Step,
  ChangeJson,
  ChangeSet,
  ChangeTarget,
  ClusterJson,
  ClusterSummary,
  CloudoptimError,
  CostSummary,
  GroupCost,
  InstanceType,
  KindTotal,
  Recommendation,
  RecommendationKind,
  ReportJson,
  PatchCandidate,
  PatchFileChange,
  PatchOutcome,
  PatchReport,
  ProposeItem,
  ProposeReport,
  ProposeStatus,
  FieldChange,
  Target,
  Totals,
} from 'cloudoptim'

export async function main(): Promise<number> {
  const cluster: Cluster = demoCluster()
  const loaded: Cluster = await loadCluster('nodes.json', { aws: ['spot.json'], usage: 'prom/', clusterName: 'c' })
  const name: string = cluster.name
  const region: string | null = loaded.region
  const nodes: number = cluster.nodeCount + cluster.podCount
  const summary: ClusterSummary = cluster.summary()
  const snapshot: ClusterJson = cluster.toJSON()

  const report: Report = await analyze(cluster, { region: 'us-east-1', analyzers: ['empty-nodes'] })
  await analyze('cluster.json', { prices: 'p.csv', spotAdvisor: 'sa.json' })
  const totals: Totals = report.totals
  const costs: CostSummary = report.costs
  const groups: GroupCost[] = costs.by_node_group
  const byKind: KindTotal[] = totals.by_kind
  const recs: Recommendation[] = report.recommendations
  const first: Recommendation = recs[0]
  const saving: number = first.monthly_savings_usd
  const kind: RecommendationKind = first.kind
  const target: Target = first.target
  const ns: string | undefined = target.namespace
  const level: 'low' | 'medium' | 'high' = first.risk.level
  const json: ReportJson = report.toJSON()
  const text: string = report.toJsonString() + report.toTable()
  const notes: string[] = report.notes.concat(json.notes)
  const it: InstanceType = instanceType('m5.large')
  const mem: number = it.allocatable.memory_bytes + memoryBytes('1Gi') + cpuMillicores('1')
  const gpu: string | null = it.gpu_name
  const names: string[] = analyzerNames()
  const schema: Record<string, unknown> = reportSchema()
  const v: string = version()

  const fieldChanges: FieldChange[] = first.changes
  const change = new Change({ target: { kind: 'NodeGroup', cluster: 'prod-eks', name: 'main-app' }, set: { instance_types: ['m6i.large'] } })
  const changeTarget: ChangeTarget = change.target
  const values: ChangeSet = change.set
  const cpu: string | undefined = values['requests.cpu']
  const changeJson: ChangeJson = change.toJSON()
  const patched: PatchReport = await patch('infra/', change, { dryRun: true })
  await patch('infra/', changeJson)
  await patch('infra/', { description: 'a corpus case', change: changeJson, expect: { outcome: 'patched' } })
  const located: PatchReport = await locate('infra/', JSON.stringify(changeJson))
  const proposed: ProposeReport = await propose(cluster, 'https://github.com/acme/infra.git', {
    group: 'namespace',
    dryRun: true,
    labels: ['cost'],
    onProgress: (item: ProposeItem) => {
      const status: ProposeStatus = item.status
      const url: string | undefined = item.url
      void status, url
    },
  })
  const proposedBody: string | undefined = proposed.items[0]?.body
  // @ts-expect-error: only none or namespace
  await propose(cluster, 'infra/', { group: 'team' })
  await locate('infra/', Change.fromJson('{}'))
  const outcome: PatchOutcome = patched.outcome
  const candidate: PatchCandidate | undefined = located.candidates[0]
  const fileChange: PatchFileChange | undefined = patched.changes[0]
  const range: [number, number] | undefined = fileChange?.lines[0]
  const written: boolean = patched.written && located.diff.length > 0

  const plan: Plan = await consolidate(cluster, { mode: 'remove', allowTypes: ['m6i.*'], region: 'us-east-1' })
  await consolidate('cluster.json')
  const planJson: PlanJson = plan.toJSON()
  const planNodes: PlanNode[] = plan.nodes
  const steps: Step[] = plan.steps
  const movedFrom: string | undefined = steps[0]?.moves[0]?.from
  const group: string | null = planNodes[0].group
  const monthly: number = plan.monthlySaving + plan.lowerBoundHourly + planJson.gap_to_bound
  const planText: string = plan.toTable() + plan.toJsonString()
  const planSchemaJson: Record<string, unknown> = planSchema()

  class TeamLabels implements CustomAnalyzer {
    name = 'team-labels'
    analyze(context: AnalyzerContext): CustomRecommendation[] {
      return context.cluster.namespaces.map((ns) => ({
        kind: 'custom',
        title: `Label ${String(ns.name)}`,
        target: { namespace: String(ns.name) },
        monthly_savings_usd: context.costs.namespaces[0]?.monthly_usd ?? 0,
      }))
    }
  }
  const withCustom: Report = await analyze(cluster, {
    extraAnalyzers: [new TeamLabels(), { name: 'later', includeUsage: true, analyze: async () => [] }],
  })

  try {
    instanceType('m5.huge')
  } catch (e) {
    const err = e as CloudoptimError
    const code: string = err.code
    const field: string | undefined = err.field
    const line: number | undefined = err.details.line
  }

  // @ts-expect-error: no such field on Recommendation
  first.monthly_savings
  // @ts-expect-error: a kind is one of the known strings
  const badKind: RecommendationKind = 'nonsense'
  // @ts-expect-error: ClusterSummary.region may be null
  const badRegion: string = summary.region
  // @ts-expect-error: option names are checked (`analyzers`, not `analyzer`)
  await analyze(cluster, { analyzer: ['x'] })
  // @ts-expect-error: analyze takes a Cluster or a path
  await analyze(42)
  // @ts-expect-error: the mode is remove or replace
  await consolidate(cluster, { mode: 'shrink' })
  // @ts-expect-error: a custom recommendation's kind is a report kind
  const badCustom: CustomRecommendation = { kind: 'cost_cutting', title: 't', target: {}, monthly_savings_usd: 0 }
  // @ts-expect-error: an analyzer needs a name
  await analyze(cluster, { extraAnalyzers: [{ analyze: () => [] }] })
  // @ts-expect-error: totals is not a number
  const badTotals: number = report.totals
  // @ts-expect-error: Cluster has no public constructor arguments of this shape
  new Cluster('x')
  // @ts-expect-error: an outcome is one of three strings
  const badOutcome: PatchOutcome = 'done'
  // @ts-expect-error: the target kind is checked
  new Change({ target: { kind: 'Pod', cluster: 'c', name: 'n' }, set: { replicas: 1 } })
  // @ts-expect-error: settings are typed (`min_size` is a number)
  new Change({ target: { kind: 'NodeGroup', cluster: 'c', name: 'n' }, set: { min_size: '1' } })
  // @ts-expect-error: option names are checked (`dryRun`, not `dry_run`)
  await patch('infra/', change, { dry_run: true })
  // @ts-expect-error: the change is a Change, its JSON or text
  await locate('infra/', 42)
  // @ts-expect-error: a report is not a string
  const badReport: string = patched

  return saving + nodes + mem + groups.length + byKind.length + name.length + text.length + notes.length
}
