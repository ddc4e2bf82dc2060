import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it, before } from 'node:test'

import * as co from 'cloudoptim'

import { packageDir, repoRoot, runCli } from './helpers.mjs'

describe('demo cluster analysis', () => {
  let cluster
  let report
  before(async () => {
    cluster = co.demoCluster()
    report = await co.analyze(cluster)
  })

  it('returns Cluster and Report instances', () => {
    assert.ok(cluster instanceof co.Cluster)
    assert.ok(report instanceof co.Report)
    assert.throws(() => new co.Cluster(), 'Cluster has no public constructor')
  })

  it('exposes the cluster getters', () => {
    assert.equal(cluster.name, 'acme-prod-use1')
    assert.equal(cluster.region, 'us-east-1')
    assert.ok(cluster.nodeCount > 10)
    assert.ok(cluster.podCount > cluster.nodeCount)
    assert.deepEqual(cluster.warnings, [])
    const s = cluster.summary()
    assert.equal(s.name, cluster.name)
    assert.equal(s.nodes, cluster.nodeCount)
    assert.equal(s.pods, cluster.podCount)
    assert.ok(s.containers_with_usage > 0, 'the demo has usage history')
  })

  it('sorts recommendations by monthly_savings_usd, largest first', () => {
    const recs = report.recommendations
    assert.ok(recs.length >= 5, `only ${recs.length} recommendations`)
    for (let i = 1; i < recs.length; i++) {
      assert.ok(
        recs[i - 1].monthly_savings_usd >= recs[i].monthly_savings_usd,
        `#${i - 1} ${recs[i - 1].monthly_savings_usd} < #${i} ${recs[i].monthly_savings_usd}`,
      )
    }
    assert.equal(report.totals.recommendations, recs.length)
  })

  it('finds savings and totals them', () => {
    const t = report.totals
    assert.ok(t.monthly_savings_usd > 0)
    assert.ok(t.gross_monthly_savings_usd >= t.monthly_savings_usd)
    assert.ok(t.savings_ratio > 0 && t.savings_ratio < 1)
    const byKind = t.by_kind.reduce((n, k) => n + k.count, 0)
    assert.equal(byKind, t.recommendations)
    assert.ok(report.costs.monthly_usd > t.monthly_savings_usd)
    assert.equal(report.costs.region, 'us-east-1')
    assert.deepEqual(report.cluster, cluster.summary())
    assert.deepEqual(report.analyzers, co.analyzerNames())
    assert.ok(Array.isArray(report.notes))
    assert.equal(report.schemaVersion, '1')
  })

  it('gives recommendations as plain objects with the JSON keys', () => {
    const r = report.recommendations[0]
    assert.equal(Object.getPrototypeOf(r), Object.prototype)
    assert.match(r.id, /^co-[0-9a-f]{16}$/)
    for (const key of ['kind', 'analyzer', 'title', 'target', 'changes', 'monthly_savings_usd', 'risk',
      'priority', 'confidence', 'evidence', 'explanation', 'savings_claims']) {
      assert.ok(key in r, `missing ${key}`)
    }
    assert.equal(typeof r.target.cluster, 'string')
    assert.ok(!('namespace' in r.target) || typeof r.target.namespace === 'string')
  })

  it('getters deep-equal the JSON text and give fresh objects on each access', () => {
    const text = JSON.parse(report.toJsonString())
    for (const key of ['recommendations', 'costs', 'totals', 'cluster']) {
      assert.deepStrictEqual(report[key], text[key], key)
    }
    const first = report.recommendations
    first[0].title = 'changed'
    first.pop()
    assert.equal(report.recommendations.length, text.recommendations.length)
    assert.equal(report.recommendations[0].title, text.recommendations[0].title)
  })

  it('toJSON() deep-equals the CLI `cloudoptim demo --format json`', () => {
    const stdout = runCli('demo', '--format', 'json')
    assert.deepStrictEqual(report.toJSON(), JSON.parse(stdout))
  })

  it('toJsonString() is exactly Report::to_json() and parses to toJSON()', () => {
    const stdout = runCli('demo', '--format', 'json')
    assert.equal(report.toJsonString() + '\n', stdout)
    assert.deepStrictEqual(JSON.parse(report.toJsonString()), report.toJSON())
    assert.deepStrictEqual(JSON.parse(JSON.stringify(report)), report.toJSON())
  })

  it('toTable() is the CLI table, which then shows the consolidation plan', () => {
    const table = report.toTable()
    assert.match(table, /^cloudoptim report: cluster acme-prod-use1/)
    const cli = runCli('demo')
    assert.ok(cli.startsWith(table))
    assert.match(cli.slice(table.length), /Consolidation \(replace\)/)
  })

  it('Cluster.toJSON() holds the whole snapshot', () => {
    const j = cluster.toJSON()
    assert.equal(j.name, cluster.name)
    assert.equal(j.nodes.length, cluster.nodeCount)
    assert.equal(j.pods.length, cluster.podCount)
    assert.deepStrictEqual(JSON.parse(JSON.stringify(cluster)), j)
  })

  it('runs only the analyzers asked for, in order', async () => {
    const r = await co.analyze(cluster, { analyzers: ['zombie-volumes', 'empty-nodes'] })
    assert.deepEqual(r.analyzers, ['zombie-volumes', 'empty-nodes'])
    assert.ok(r.recommendations.every((x) => x.analyzer === 'zombie-volumes' || x.analyzer === 'empty-nodes'))
    assert.ok(r.recommendations.length < report.recommendations.length)
  })

  it('prices in the region asked for', async () => {
    const r = await co.analyze(cluster, { region: 'eu-west-1' })
    assert.equal(r.costs.region, 'eu-west-1')
  })
})

describe('helpers', () => {
  it('parses CPU and memory quantities', () => {
    assert.equal(co.cpuMillicores('250m'), 250)
    assert.equal(co.cpuMillicores('1.5'), 1500)
    assert.equal(co.cpuMillicores('2'), 2000)
    assert.equal(co.cpuMillicores('5n'), 1, 'rounded up')
    assert.equal(co.memoryBytes('512Mi'), 512 * 1024 * 1024)
    assert.equal(co.memoryBytes('1G'), 1e9)
    assert.equal(co.memoryBytes('1Gi'), 2 ** 30)
  })

  it('looks instance types up', () => {
    const t = co.instanceType('m5.large')
    assert.equal(t.name, 'm5.large')
    assert.equal(t.vcpu, 2)
    assert.equal(t.memory_mib, 8192)
    assert.equal(t.arch, 'amd64')
    assert.ok(t.allocatable.cpu_milli > 0 && t.allocatable.cpu_milli < 2000)
    assert.ok(t.od_price_us_east_1 > 0)
    assert.equal(co.instanceType('m6g.large').arch, 'arm64')
  })

  it('lists the analyzers', () => {
    const names = co.analyzerNames()
    assert.ok(names.includes('workload-rightsizing'))
    assert.ok(names.includes('empty-nodes'))
    assert.equal(new Set(names).size, names.length)
  })

  it('returns the report schema, equal to the CLI schema', () => {
    const s = co.reportSchema()
    assert.equal(s.title, 'Report')
    assert.ok(s.$defs.Recommendation)
    assert.deepStrictEqual(s, JSON.parse(runCli('schema')))
  })

  it('reports the crate version, equal to package.json', () => {
    const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'))
    assert.equal(co.version(), pkg.version)
    const cargo = readFileSync(join(repoRoot, 'Cargo.toml'), 'utf8')
    assert.match(cargo, new RegExp(`\\[workspace\\.package\\][^[]*version = "${co.version().replaceAll('.', '\\.')}"`))
  })
})
