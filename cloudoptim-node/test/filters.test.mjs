// Analysis settings through the binding: the keys of `cloudoptim analyze --config`.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import * as co from 'cloudoptim'

import { tempDir } from './helpers.mjs'

const evidence = (report, ns, workload, name) =>
  report.recommendations
    .find((r) => r.target.namespace === ns && r.target.workload === workload)
    ?.evidence.find((e) => e.name === name)?.value

describe('analyze(cluster, { filters })', () => {
  it('applies buffers, exclusions and the team summary', async () => {
    const demo = co.demoCluster()
    const base = await co.analyze(demo, { analyzers: ['workload-rightsizing'] })
    const report = await co.analyze(demo, {
      analyzers: ['workload-rightsizing'],
      filters: { exclude_namespaces: ['dev-*'], buffers: [{ match: 'shop/checkout', cpu: 0.5 }] },
    })
    assert.ok(report.recommendations.every((r) => r.target.namespace !== 'dev-shop'))
    const before = evidence(base, 'shop', 'checkout', 'cpu_target')
    const after = evidence(report, 'shop', 'checkout', 'cpu_target')
    assert.ok(Math.abs(after - before * 1.5) <= 0.002, `${before} → ${after}`)
    const teams = report.totals.by_team.map((g) => g.name)
    assert.ok(teams.includes('storefront'), teams.join(','))
    const counted = report.totals.by_namespace.reduce((a, g) => a + g.count, 0)
    assert.equal(counted, report.recommendations.length)
  })

  it('reads a settings file and rejects unknown keys with CLOUDOPTIM_FIELD', async () => {
    const dir = await tempDir()
    const f = join(dir, 'settings.yaml')
    await writeFile(f, 'include_namespaces: [payments]\n')
    const report = await co.analyze(co.demoCluster(), { filters: f })
    assert.ok(report.recommendations.length > 0)
    // findings about nodes, volumes and instances have no namespace and are kept
    const namespaced = report.recommendations.filter((r) => r.target.namespace !== undefined)
    assert.ok(namespaced.length > 0)
    assert.ok(namespaced.every((r) => r.target.namespace === 'payments'))
    await assert.rejects(co.analyze(co.demoCluster(), { filters: { exclude_namespace: ['x'] } }), (e) => {
      assert.equal(e.code, 'CLOUDOPTIM_FIELD')
      assert.match(e.message, /exclude_namespace/)
      return true
    })
    await assert.rejects(
      co.analyze(co.demoCluster(), { filters: { buffers: [{ match: 'x', memory: 99 }] } }),
      (e) => e.code === 'CLOUDOPTIM_ANALYZER_CONFIG' && /buffer `x`/.test(e.message),
    )
  })
})
