// Progress events of long batches: `analyze` reports each analyzer as it finishes, in order,
// all before the Promise settles; results are the same with and without a listener.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { analyze, analyzerNames, demoCluster } from 'cloudoptim'

describe('analyze onProgress', () => {
  it('reports every analyzer in the order they run, then resolves to the same report', async () => {
    const cluster = demoCluster()
    const events = []
    let settled = false
    const pending = analyze(cluster, {
      onProgress: (e) => {
        assert.equal(settled, false, 'no event after the Promise settled')
        events.push(e)
      },
    })
    const report = await pending
    settled = true
    const names = analyzerNames()
    assert.deepEqual(events.map((e) => e.analyzer), names)
    assert.deepEqual(events.map((e) => e.done), names.map((_, i) => i + 1))
    assert.ok(events.every((e) => e.total === names.length))
    assert.ok(events.some((e) => e.recommendations > 0))
    assert.ok(events.reduce((n, e) => n + e.recommendations, 0) >= report.recommendations.length)
    assert.deepEqual(report.analyzers, names)
    assert.deepEqual(report.toJSON(), (await analyze(cluster)).toJSON(), 'a listener changes nothing')
  })

  it('follows the analyzers chosen, JavaScript ones last, and reports their counts', async () => {
    const events = []
    const custom = {
      name: 'one-note',
      analyze: () => [{ kind: 'custom', title: 't', target: { namespace: 'shop' }, monthly_savings_usd: 1 }],
    }
    const report = await analyze(demoCluster(), {
      analyzers: ['zombie-volumes', 'empty-nodes'],
      extraAnalyzers: [custom],
      onProgress: (e) => events.push(e),
    })
    const order = ['zombie-volumes', 'empty-nodes', 'one-note']
    assert.deepEqual(events.map((e) => [e.analyzer, e.done, e.total]), order.map((a, i) => [a, i + 1, 3]))
    assert.deepEqual(report.analyzers, order)
    assert.equal(events[2].recommendations, 1)
    await assert.rejects(analyze(demoCluster(), { analyzers: ['nope'], onProgress: () => {} }), { code: 'CLOUDOPTIM_UNKNOWN_ANALYZER' })
  })
})
