// Analyzers written in JavaScript, run by the Rust engine (on the thread pool) like the built-ins.
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'

import * as co from 'cloudoptim'

/**
 * Flags namespaces without a `cost-center` label: their spend cannot be charged back. Claims a tenth of
 * the namespace's cost as the saving of knowing whom to ask. A class, so `this` matters.
 */
class TeamLabels {
  name = 'team-labels'
  description = 'Namespaces without a cost-center label'
  share = 0.1
  contexts = []

  analyze(context) {
    this.contexts.push(context)
    const costs = new Map(context.costs.namespaces.map((n) => [n.name, n.monthly_usd]))
    return context.cluster.namespaces
      .filter((ns) => !('cost-center' in ns.labels))
      .map((ns) => {
        const cost = costs.get(ns.name) ?? 0
        return {
          kind: 'custom',
          title: `Label namespace ${ns.name} with the team that owns it`,
          target: { namespace: ns.name },
          monthly_savings_usd: Math.round(cost * this.share * 100) / 100,
          changes: [{ field: 'label.team', current: '', proposed: '<team>' }],
          risk: { level: 'low', reasons: ['labels only'] },
          confidence: 0.5,
          evidence: [{ name: 'monthly_cost', value: cost, unit: 'usd_per_month' }],
          explanation: 'Spend without an owner is spend nobody reviews.',
        }
      })
  }
}

const custom = (report) => report.recommendations.filter((r) => r.analyzer === 'team-labels')
const GOOD = { kind: 'custom', title: 't', target: {}, monthly_savings_usd: 1 }
const returning = (name, value) => ({ name, analyze: () => value })

describe('analyzers written in JavaScript', () => {
  let cluster
  let base
  let teamLabels
  let report
  before(async () => {
    cluster = co.demoCluster()
    base = await co.analyze(cluster)
    teamLabels = new TeamLabels()
    report = await co.analyze(cluster, { extraAnalyzers: [teamLabels] })
  })

  it('puts their findings in the report, after the built-in analyzers', () => {
    const found = custom(report)
    const namespaces = cluster.toJSON().namespaces
    assert.ok(namespaces.length > 0)
    assert.equal(found.length, namespaces.length, 'no demo namespace has a team label')
    assert.deepEqual(report.analyzers, [...co.analyzerNames(), 'team-labels'])
    for (const r of found) {
      assert.equal(r.kind, 'custom')
      assert.match(r.id, /^co-[0-9a-f]{16}$/)
      assert.deepEqual(r.target, { cluster: cluster.name, namespace: r.target.namespace })
      assert.deepEqual(r.risk, { level: 'low', reasons: ['labels only'] })
      assert.equal(r.confidence, 0.5)
      assert.equal(r.priority, 'normal')
      assert.deepEqual(r.savings_claims, [])
    }
    const savings = report.recommendations.map((r) => r.monthly_savings_usd)
    assert.deepEqual(savings, [...savings].sort((a, b) => b - a), 'largest saving first')
  })

  it('gives them stable ids: the same across runs', async () => {
    const again = await co.analyze(cluster, { analyzers: [], extraAnalyzers: [new TeamLabels()] })
    assert.deepEqual(again.analyzers, ['team-labels'])
    assert.deepEqual(again.recommendations.map((r) => r.id), custom(report).map((r) => r.id))
    assert.deepStrictEqual(again.recommendations, custom(report))
    assert.equal(new Set(custom(report).map((r) => r.id)).size, custom(report).length)
  })

  it('counts their savings in the totals', () => {
    const extra = custom(report).reduce((s, r) => s + r.monthly_savings_usd, 0)
    assert.ok(extra > 0)
    const t = report.totals
    assert.equal(t.recommendations, base.totals.recommendations + custom(report).length)
    assert.ok(Math.abs(t.monthly_savings_usd - base.totals.monthly_savings_usd - extra) < 0.011)
    assert.ok(Math.abs(t.gross_monthly_savings_usd - base.totals.gross_monthly_savings_usd - extra) < 0.011)
    const byKind = t.by_kind.find((k) => k.kind === 'custom')
    assert.equal(byKind.count, custom(report).length)
  })

  it('hands them the cluster without usage history, the costs and now', () => {
    const context = teamLabels.contexts[0]
    assert.deepEqual(Object.keys(context).sort(), ['cluster', 'costs', 'now'])
    const whole = cluster.toJSON()
    assert.deepEqual(
      Object.keys(context.cluster).sort(),
      [...Object.keys(whole).filter((k) => k !== 'usage'), 'summary'].sort(),
    )
    assert.deepStrictEqual(context.cluster.summary, cluster.summary())
    for (const key of ['nodes', 'pods', 'namespaces']) assert.deepStrictEqual(context.cluster[key], whole[key])
    const c = context.costs
    assert.equal(c.region, 'us-east-1')
    assert.deepEqual(c.nodes.map((n) => n.node), whole.nodes.map((n) => n.name))
    const byNs = new Map(c.namespaces.map((n) => [n.name, n.monthly_usd]))
    for (const row of report.costs.by_namespace) assert.ok(Math.abs(byNs.get(row.name) - row.monthly_usd) < 0.006)
    assert.ok(Math.abs(c.monthly_usd - report.costs.monthly_usd) < 0.006)
    assert.match(context.now, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
  })

  it('hands them the usage history when asked', async () => {
    let usage
    const analyzer = { name: 'usage', includeUsage: true, analyze: (ctx) => ((usage = ctx.cluster.usage), []) }
    await co.analyze(cluster, { analyzers: [], extraAnalyzers: [analyzer] })
    assert.deepStrictEqual(usage, cluster.toJSON().usage)
  })

  it('accepts a Promise of recommendations (async analyze)', async () => {
    const analyzer = {
      name: 'later',
      async analyze() {
        await new Promise((resolve) => setTimeout(resolve, 5))
        return [{ ...GOOD, target: { namespace: 'shop' } }]
      },
    }
    const r = await co.analyze(cluster, { analyzers: [], extraAnalyzers: [analyzer] })
    assert.deepEqual(r.recommendations.map((x) => [x.analyzer, x.target.namespace]), [['later', 'shop']])
  })

  it('combines claims on one resource instead of adding them', async () => {
    const claim = (name) => ({
      name,
      analyze(ctx) {
        const node = ctx.costs.nodes[0]
        return [
          {
            kind: 'node_removal',
            title: `${name}: half of ${node.node}`,
            target: { node: node.node },
            monthly_savings_usd: node.monthly_usd / 2,
            resource: `node:${node.node}`,
            base_monthly_usd: node.monthly_usd,
          },
        ]
      },
    })
    const r = await co.analyze(cluster, { analyzers: [], extraAnalyzers: [claim('a'), claim('b')] })
    const base = r.recommendations[0].savings_claims[0].base_monthly_usd
    assert.equal(r.recommendations[0].id, r.recommendations[1].id, 'same kind and target, same id')
    assert.ok(Math.abs(r.totals.gross_monthly_savings_usd - base) < 0.011)
    assert.ok(Math.abs(r.totals.monthly_savings_usd - base * 0.75) < 0.011)
  })

  it('keeps the event loop free while the built-ins run', async () => {
    let ticks = 0
    const timer = setInterval(() => ticks++, 0)
    try {
      await co.analyze(cluster, { extraAnalyzers: [returning('nothing', [])] })
    } finally {
      clearInterval(timer)
    }
    assert.ok(ticks > 0)
  })

  it('rejects a throwing analyzer with CLOUDOPTIM_ANALYZER_FAILED, its stack in the message', async () => {
    function helper() {
      throw new RangeError('no such namespace')
    }
    const broken = { name: 'broken', analyze: () => helper() }
    await assert.rejects(co.analyze(cluster, { extraAnalyzers: [broken] }), (e) => {
      assert.ok(e instanceof Error)
      assert.equal(e.code, 'CLOUDOPTIM_ANALYZER_FAILED')
      assert.equal(e.details.name, 'broken')
      assert.ok(e.message.startsWith('analyzer broken failed: RangeError: no such namespace\n'), e.message)
      assert.match(e.message, /at helper \(/)
      assert.match(e.message, /analyzers\.test\.mjs:\d+:\d+/)
      return true
    })
    for (const analyze of [
      async () => {
        throw new Error('later')
      },
      () => {
        throw 'a string' // eslint-disable-line no-throw-literal
      },
      () => Promise.reject(new TypeError('rejected')),
    ]) {
      await assert.rejects(co.analyze(cluster, { analyzers: [], extraAnalyzers: [{ name: 'broken', analyze }] }), {
        code: 'CLOUDOPTIM_ANALYZER_FAILED',
        message: /^analyzer broken failed: (Error: later|a string|TypeError: rejected)/,
      })
    }
  })

  it('refuses invalid recommendations with a clear error naming the analyzer and the item', async () => {
    for (const [value, message] of [
      [[GOOD, { ...GOOD, kind: 'cost_cutting' }], 'item 1: invalid recommendation: unknown kind "cost_cutting"; known: workload_rightsizing, '],
      [[{ ...GOOD, title: '' }], '`title` is empty'],
      [[{ ...GOOD, colour: 'red' }], 'unknown field `colour`'],
      [[{ ...GOOD, target: { pod: 'x' } }], '`target.pod` is not a target field'],
      [[{ ...GOOD, confidence: 2 }], '`confidence` 2 is not in [0, 1]'],
      [[{ ...GOOD, resource: 'node:x' }], '`resource` needs `base_monthly_usd`'],
      [[42], 'item 0: invalid recommendation: expected an object, found a number'],
      [{ kind: 'custom' }, 'must return a list of recommendations, not an object'],
      [undefined, 'must return a list of recommendations, not null'],
    ]) {
      await assert.rejects(co.analyze(cluster, { analyzers: [], extraAnalyzers: [returning('mine', value)] }), (e) => {
        assert.equal(e.code, 'CLOUDOPTIM_ANALYZER_FAILED')
        assert.equal(e.details.name, 'mine')
        assert.ok(e.message.startsWith('analyzer mine failed: '), e.message)
        assert.ok(e.message.includes(message), `${e.message} lacks ${message}`)
        return true
      })
    }
  })

  it('accepts undefined for optional keys', async () => {
    const value = [{ ...GOOD, risk: undefined, changes: null, target: { namespace: 'shop', node: undefined } }]
    const r = await co.analyze(cluster, { analyzers: [], extraAnalyzers: [returning('mine', value)] })
    assert.deepEqual(r.recommendations[0].target, { cluster: cluster.name, namespace: 'shop' })
  })

  it('throws a TypeError at once for objects that are not analyzers', () => {
    for (const [obj, message] of [
      [{ analyze: () => [] }, /extraAnalyzers\[0\] needs a `name`/],
      [{ name: '', analyze: () => [] }, /needs a `name`/],
      [{ name: 'no-method' }, /\(no-method\) needs a method `analyze\(context\)`/],
      [{ name: 'bad', description: 3, analyze: () => [] }, /`description` must be a string/],
      [{ name: 'bad', includeUsage: 'yes', analyze: () => [] }, /`includeUsage` must be a boolean/],
    ]) {
      assert.throws(() => co.analyze(cluster, { extraAnalyzers: [obj] }), (e) => {
        assert.ok(e instanceof TypeError, String(e))
        assert.match(e.message, message)
        return true
      })
    }
  })

  it('rejects two analyzers with one name with CLOUDOPTIM_ANALYZER_CONFIG', async () => {
    await assert.rejects(co.analyze(cluster, { extraAnalyzers: [returning('zombie-volumes', [])] }), (e) => {
      assert.equal(e.code, 'CLOUDOPTIM_ANALYZER_CONFIG')
      assert.equal(e.details.name, 'zombie-volumes')
      return true
    })
    const r = await co.analyze(cluster, { analyzers: [], extraAnalyzers: [returning('zombie-volumes', [])] })
    assert.deepEqual(r.analyzers, ['zombie-volumes'])
  })
})
