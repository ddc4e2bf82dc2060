// The TypeScript interfaces in index.d.ts (written in header.d.ts) against the report's JSON
// Schema and the objects the binding returns, so the hand-written types cannot drift from Rust.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { analyze, demoCluster, instanceType, planSchema, reportSchema } from 'cloudoptim'

import { packageDir } from './helpers.mjs'

const ts = createRequire(import.meta.url)('typescript')

/** Interfaces and type aliases of index.d.ts: name → { fields: Map(name → {optional, type}) } | { union }. */
function declarations() {
  const file = join(packageDir, 'index.d.ts')
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const norm = (node) => node.getText(sf).replace(/\s+/g, '')
  const out = new Map()
  for (const st of sf.statements) {
    if (ts.isInterfaceDeclaration(st)) {
      const fields = new Map()
      for (const m of st.members) {
        if (ts.isPropertySignature(m)) {
          fields.set(m.name.getText(sf), { optional: Boolean(m.questionToken), type: norm(m.type) })
        }
      }
      out.set(st.name.text, { fields })
    } else if (ts.isTypeAliasDeclaration(st) && ts.isUnionTypeNode(st.type)) {
      const union = st.type.types.map((t) => (ts.isLiteralTypeNode(t) ? t.literal.text : norm(t)))
      out.set(st.name.text, { union })
    }
  }
  return out
}

/**
 * Schema `$defs` whose TypeScript interface has another name: `Change` is the IaC change class,
 * so a recommendation's field change is `FieldChange`.
 */
const RENAMED = { Change: 'FieldChange' }
const tsName = (def) => RENAMED[def] ?? def

/** The TypeScript type a schema node stands for, without spaces (`string|null`, `FieldChange[]`). */
function tsType(node) {
  if (node.$ref) return tsName(node.$ref.split('/').pop())
  for (const key of ['anyOf', 'oneOf']) {
    if (node[key]) return node[key].map(tsType).join('|')
  }
  if (node.const !== undefined) return JSON.stringify(node.const)
  const types = Array.isArray(node.type) ? node.type : [node.type]
  return types
    .map((t) => {
      switch (t) {
        case 'string':
          return 'string'
        case 'integer':
        case 'number':
          return 'number'
        case 'boolean':
          return 'boolean'
        case 'null':
          return 'null'
        case 'array':
          return `${tsType(node.items)}[]`
        case 'object':
          return `Record<string,${tsType(node.additionalProperties)}>`
        default:
          throw new Error(`schema type ${JSON.stringify(node)} has no TypeScript mapping in this test`)
      }
    })
    .join('|')
}

const schema = reportSchema()
const decls = declarations()

/** Checks an interface against an object schema. */
function checkInterface(iface, def, where) {
  const d = decls.get(iface)
  assert.ok(d?.fields, `index.d.ts has no interface ${iface} (for ${where})`)
  const props = def.properties
  const required = new Set(def.required ?? [])
  assert.deepEqual([...d.fields.keys()].sort(), Object.keys(props).sort(), `${iface} fields differ from ${where}`)
  for (const [name, f] of d.fields) {
    const expected = tsType(props[name])
    if (f.optional) {
      assert.ok(!required.has(name), `${iface}.${name} is optional in TypeScript but required in ${where}`)
      // an absent key stands for null
      assert.equal(f.type, expected.replace(/\|null$/, ''), `${iface}.${name}: type`)
    } else {
      assert.equal(f.type, expected, `${iface}.${name}: type`)
    }
  }
}

describe('TypeScript interfaces match the report JSON Schema', () => {
  it('ReportJson is the schema root', () => {
    checkInterface('ReportJson', schema, 'the schema root')
  })

  for (const [name, def] of Object.entries(schema.$defs)) {
    it(`${tsName(name)} matches $defs/${name}`, () => {
      if (def.properties) {
        checkInterface(tsName(name), def, `$defs/${name}`)
      } else {
        const values = (def.oneOf ?? def.anyOf ?? []).map((v) => v.const).concat(def.enum ?? [])
        assert.ok(values.length > 0 && values.every((v) => typeof v === 'string'), `unexpected $defs/${name}`)
        const d = decls.get(tsName(name))
        assert.ok(d?.union, `index.d.ts has no union type ${tsName(name)}`)
        assert.deepEqual([...d.union].sort(), [...values].sort(), `${name} members differ`)
      }
    })
  }

  it('has no interface Change that would merge into the Change class', () => {
    assert.equal(decls.get('Change'), undefined)
    assert.ok(decls.get('FieldChange')?.fields)
  })

  it('covers Report, Recommendation and Totals', () => {
    for (const name of ['Recommendation', 'Totals', 'CostSummary', 'ClusterSummary']) {
      assert.ok(schema.$defs[name], `the schema lost $defs/${name}`)
    }
  })
})

describe('TypeScript interfaces match the plan JSON Schema', () => {
  const plan = planSchema()

  it('PlanJson is the schema root', () => {
    checkInterface('PlanJson', plan, 'the plan schema root')
  })

  for (const [name, def] of Object.entries(plan.$defs)) {
    it(`${tsName(name)} matches the plan's $defs/${name}`, () => {
      assert.ok(def.properties, `unexpected plan $defs/${name}`)
      checkInterface(tsName(name), def, `the plan's $defs/${name}`)
    })
  }

  it('covers the plan and its steps', () => {
    for (const name of ['PlanNode', 'Assignment', 'Unplaced', 'BlockedNode', 'Move', 'Step']) {
      assert.ok(plan.$defs[name], `the plan schema lost $defs/${name}`)
    }
  })
})

describe('TypeScript interfaces match the objects returned', () => {
  const fields = (iface) => [...decls.get(iface).fields.keys()].sort()

  it('InstanceType and Resources', () => {
    const t = instanceType('m5.large')
    assert.deepEqual(Object.keys(t).sort(), fields('InstanceType'))
    assert.deepEqual(Object.keys(t.allocatable).sort(), fields('Resources'))
  })

  it('ClusterJson', () => {
    assert.deepEqual(Object.keys(demoCluster().toJSON()).sort(), fields('ClusterJson'))
  })

  it('AnalyzerContext and its costs', async () => {
    let context
    const spy = { name: 'spy', analyze: (c) => ((context = c), []) }
    await analyze(demoCluster(), { analyzers: [], extraAnalyzers: [spy] })
    assert.deepEqual(Object.keys(context).sort(), fields('AnalyzerContext'))
    assert.deepEqual(Object.keys(context.costs).sort(), fields('AnalyzerCosts'))
    assert.deepEqual(Object.keys(context.costs.nodes[0]).sort(), fields('NodeMonthlyCost'))
    assert.deepEqual(Object.keys(context.costs.pods[0]).sort(), fields('PodMonthlyCost'))
    assert.deepEqual(Object.keys(context.costs.volumes[0]).sort(), fields('VolumeMonthlyCost'))
    assert.deepEqual(Object.keys(context.costs.namespaces[0]).sort(), fields('NamedCost'))
    // the cluster is ClusterJson without `usage`, plus `summary`
    const cluster = fields('ClusterJson').filter((f) => f !== 'usage').concat('summary').sort()
    assert.deepEqual(Object.keys(context.cluster).sort(), cluster)
  })

  it('CustomRecommendation: every field it declares is accepted', async () => {
    const full = {
      kind: 'node_removal',
      title: 'Remove node n1',
      target: { namespace: 'a', workload_kind: 'Deployment', workload: 'w', container: 'c', node_group: 'g', node: 'n1', volume: 'v', instance: 'i' },
      monthly_savings_usd: 5,
      changes: [{ field: 'f', current: 'a', proposed: 'b' }],
      risk: { level: 'medium', reasons: ['r'] },
      priority: 'high',
      confidence: 0.9,
      evidence: [{ name: 'e', value: 1, unit: 'count' }],
      explanation: 'x',
      resource: 'node:n1',
      base_monthly_usd: 10,
    }
    assert.deepEqual(Object.keys(full).sort(), fields('CustomRecommendation'))
    assert.deepEqual(['cluster', ...Object.keys(full.target)].sort(), fields('Target'))
    const r = await analyze(demoCluster(), { analyzers: [], extraAnalyzers: [{ name: 'full', analyze: () => [full] }] })
    assert.equal(r.recommendations[0].monthly_savings_usd, 5)
  })

  it('the class members the generated declarations promise', () => {
    const src = readFileSync(join(packageDir, 'index.d.ts'), 'utf8')
    for (const sig of [
      'get recommendations(): Recommendation[]',
      'get totals(): Totals',
      'get costs(): CostSummary',
      'get cluster(): ClusterSummary',
      'toJSON(): ReportJson',
      'summary(): ClusterSummary',
      'export declare function instanceType(name: string): InstanceType',
      'export declare function loadCluster(pathOrOptions: string | LoadClusterOptions, options?: LoadClusterOptions | undefined | null): Promise<Cluster>',
      'export declare function analyze(cluster: Cluster | string, options?: AnalyzeOptions | undefined | null): Promise<Report>',
      'export declare function patch(repo: string, change: ChangeInput, options?: PatchOptions | undefined | null): Promise<PatchReport>',
      'export declare function locate(repo: string, change: ChangeInput, options?: LocateOptions | undefined | null): Promise<PatchReport>',
      'export declare function apply(plan: ActionPlanJson | string, options?: ApplyOptions | undefined | null): Promise<StepOutcome[]>',
      'export declare function spotReadiness(cluster: Cluster | string): Promise<SpotReadiness[]>',
      'export declare function planInterruption(cluster: Cluster | string, message: string): Promise<InterruptionPlan>',
      'scorer?: CustomSpotScorer | SpotScoreFunction',
      'locators?: Array<CustomLocator | LocateFunction>',
      'onProgress?: (event: AnalyzeProgress) => void',
      'onProgress?: (event: LoadProgress) => void',
      'onProgress?: (event: ApplyProgress) => void',
      'constructor(change: ChangeJson)',
      'static fromJson(text: string): Change',
      'get target(): ChangeTarget',
      'get set(): ChangeSet',
      'toJSON(): ChangeJson',
      'export declare function consolidate(cluster: Cluster | string, options?: ConsolidateOptions | undefined | null): Promise<Plan>',
      'export declare function planSchema(): Record<string, unknown>',
      'toJSON(): PlanJson',
      'get nodes(): PlanNode[]',
      'get assignments(): Assignment[]',
      'get steps(): Step[]',
      'get monthlySaving(): number',
      "mode?: 'remove' | 'replace'",
      'extraAnalyzers?: CustomAnalyzer[]',
      'export declare function propose(cluster: Cluster | string, repo: string, options?: ProposeOptions | undefined | null): Promise<ProposeReport>',
      "group?: 'none' | 'namespace'",
      'onProgress?: (item: ProposeItem) => void',
    ]) {
      assert.ok(src.includes(sig), `index.d.ts lacks \`${sig}\``)
    }
    assert.doesNotMatch(src, /:\s*any\b/, 'no `any` in the declarations')
  })
})
