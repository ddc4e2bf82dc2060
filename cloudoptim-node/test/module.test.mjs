// The package's entry points: ESM through `exports.import` (index.mjs), CommonJS through
// `exports.require` (index.js), both by package self-reference, as consumers import it.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { describe, it } from 'node:test'

import cloudoptimDefault, { demoCluster, analyze, loadCluster, Cluster, Report } from 'cloudoptim'
import * as esm from 'cloudoptim'

const require = createRequire(import.meta.url)

const API = ['Change', 'Cluster', 'Plan', 'Report', 'analyze', 'apply', 'analyzerNames', 'consolidate', 'cpuMillicores',
  'demoCluster', 'instanceType', 'loadCluster', 'locate', 'memoryBytes', 'patch', 'planInterruption', 'planSchema', 'propose', 'reportSchema', 'scoreSpotTypes', 'spotReadiness',
  'version']

describe('module entry points', () => {
  it('ESM named imports work', async () => {
    assert.equal(typeof demoCluster, 'function')
    assert.equal(typeof analyze, 'function')
    assert.equal(typeof loadCluster, 'function')
    const c = demoCluster()
    assert.ok(c instanceof Cluster)
    assert.ok((await analyze(c)) instanceof Report)
  })

  it('CommonJS require works and is the same binding', () => {
    const cjs = require('cloudoptim')
    assert.equal(require.resolve('cloudoptim'), new URL('../index.js', import.meta.url).pathname)
    for (const name of API) {
      assert.equal(typeof cjs[name], 'function', name)
      assert.equal(esm[name], cjs[name], `${name} differs between ESM and CommonJS`)
    }
    assert.equal(cloudoptimDefault, cjs, 'the default export is the CommonJS module')
  })

  it('exports exactly the documented API', () => {
    const exported = Object.keys(require('cloudoptim')).filter((k) => !k.startsWith('__')).sort()
    assert.deepEqual(exported, [...API].sort())
  })
})
