import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { analyze, cpuMillicores, demoCluster, instanceType, loadCluster } from 'cloudoptim'

import { data, tempDir } from './helpers.mjs'

/** A pod whose CPU request is not a quantity. */
const badPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-1', namespace: 'shop' },
  spec: {
    nodeName: 'n1',
    containers: [{ name: 'app', image: 'nginx', resources: { requests: { cpu: 'lots', memory: '64Mi' } } }],
  },
  status: { phase: 'Running' },
}

describe('errors', () => {
  it('rejects truncated JSON with CLOUDOPTIM_SYNTAX, naming the file and position', async () => {
    const text = await readFile(data('k8s/honeycomb-eks-nodes.json'), 'utf8')
    const path = join(await tempDir(), 'nodes.json')
    await writeFile(path, text.slice(0, Math.floor(text.length / 2)))
    await assert.rejects(loadCluster(path), (e) => {
      assert.ok(e instanceof Error)
      assert.equal(e.code, 'CLOUDOPTIM_SYNTAX')
      assert.ok(e.message.includes(path), e.message)
      assert.equal(e.path, path)
      assert.equal(typeof e.line, 'number')
      assert.ok(e.line > 1)
      assert.equal(typeof e.column, 'number')
      assert.deepEqual(e.details, { path, line: e.line, column: e.column })
      return true
    })
  })

  it('rejects a malformed quantity with CLOUDOPTIM_FIELD naming the field path', async () => {
    const path = join(await tempDir(), 'pod.json')
    await writeFile(path, JSON.stringify(badPod))
    await assert.rejects(loadCluster(path), (e) => {
      assert.ok(e instanceof Error)
      assert.equal(e.code, 'CLOUDOPTIM_FIELD')
      assert.ok(e.message.includes('spec.containers[0].resources.requests.cpu'), e.message)
      assert.ok(e.message.includes('lots'), e.message)
      assert.equal(e.field, 'spec.containers[0].resources.requests.cpu')
      assert.equal(e.object, 'Pod shop/web-1')
      assert.equal(e.path, path)
      return true
    })
    // analyze(path) loads first and rejects the same way
    await assert.rejects(analyze(path), { code: 'CLOUDOPTIM_FIELD' })
  })

  it('rejects a missing file with CLOUDOPTIM_IO', async () => {
    const path = join(await tempDir(), 'missing.json')
    await assert.rejects(loadCluster(path), { code: 'CLOUDOPTIM_IO', path })
    await assert.rejects(
      loadCluster(data('k8s/honeycomb-eks-nodes.json'), { aws: join(await tempDir(), 'nope') }),
      { code: 'CLOUDOPTIM_IO' },
    )
  })

  it('rejects a document of another kind with CLOUDOPTIM_UNRECOGNIZED', async () => {
    await assert.rejects(loadCluster(data('describe-instance-types-25.json')), { code: 'CLOUDOPTIM_UNRECOGNIZED' })
  })

  it('rejects an unknown analyzer with CLOUDOPTIM_UNKNOWN_ANALYZER', async () => {
    await assert.rejects(analyze(demoCluster(), { analyzers: ['empty-nodes', 'crystal-ball'] }), (e) => {
      assert.equal(e.code, 'CLOUDOPTIM_UNKNOWN_ANALYZER')
      assert.match(e.message, /crystal-ball/)
      assert.equal(e.details.name, 'crystal-ball')
      assert.equal(e.name, 'Error', 'the detail `name` does not shadow Error#name')
      return true
    })
  })

  it('rejects a missing price table with CLOUDOPTIM_IO', async () => {
    const prices = join(await tempDir(), 'prices.csv')
    await assert.rejects(analyze(demoCluster(), { prices }), { code: 'CLOUDOPTIM_IO', path: prices })
  })

  it('throws CLOUDOPTIM_UNKNOWN_INSTANCE_TYPE for an unknown instance type', () => {
    assert.throws(() => instanceType('m5.huge'), (e) => {
      assert.ok(e instanceof Error)
      assert.equal(e.code, 'CLOUDOPTIM_UNKNOWN_INSTANCE_TYPE')
      assert.match(e.message, /m5\.huge/)
      assert.deepEqual(e.details, { name: 'm5.huge' })
      return true
    })
  })

  it('throws CLOUDOPTIM_QUANTITY for a malformed quantity', () => {
    assert.throws(() => cpuMillicores('lots'), { code: 'CLOUDOPTIM_QUANTITY', message: /lots/ })
  })

  it('throws a TypeError-like error for wrong argument types, not a crash', async () => {
    assert.throws(() => loadCluster(42))
    assert.throws(() => analyze({ not: 'a cluster' }))
  })
})
