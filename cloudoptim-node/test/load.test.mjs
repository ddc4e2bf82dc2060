import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { inspect } from 'node:util'
import { describe, it } from 'node:test'

import { Cluster, analyze, loadCluster } from 'cloudoptim'

import { data } from './helpers.mjs'

describe('loadCluster on real public data', () => {
  it('loads EKS nodes', async () => {
    const c = await loadCluster(data('k8s/honeycomb-eks-nodes.json'))
    assert.ok(c instanceof Cluster)
    assert.equal(c.nodeCount, 2)
    assert.equal(c.podCount, 0)
    assert.equal(c.name, 'honeycomb-eks-nodes', 'named after the file')
    const n = c.toJSON().nodes[0]
    assert.equal(n.name, 'duckboat-01')
    assert.equal(n.instance_type, 'm6gd.2xlarge')
    assert.equal(n.allocatable.cpu_milli, 7910)
    assert.equal(n.allocatable.memory_bytes, 31_127_824 * 1024)
  })

  it('loads pods and takes a cluster name', async () => {
    const c = await loadCluster(data('k8s/honeycomb-eks-pods.json'), { clusterName: 'honeycomb' })
    assert.equal(c.name, 'honeycomb')
    assert.equal(c.podCount, 11)
    assert.equal(c.nodeCount, 0)
    const pods = c.toJSON().pods
    assert.ok(pods.every((p) => p.node_name === 'duckboat-01'))
  })

  it('loads a YAML pod killed by OOM, with a warning for its placeholder times', async () => {
    const c = await loadCluster(data('k8s/flanksource-pod-oomkilled.yaml'))
    assert.equal(c.podCount, 1)
    const container = c.toJSON().pods[0].containers[0]
    assert.equal(container.restart_count, 9)
    assert.equal(container.last_termination.reason, 'OOMKilled')
    assert.equal(container.limits.memory_bytes, 200 * 2 ** 20)
    assert.ok(
      c.warnings.some((w) => w.includes('flanksource-pod-oomkilled.yaml') && w.includes('finishedAt')),
      inspect(c.warnings),
    )
  })

  it('adds AWS CLI spot price history (aws as an array or a string)', async () => {
    const nodes = data('k8s/honeycomb-eks-nodes.json')
    const spot = data('describe-spot-price-history-m5.large-us-east-1.json')
    const c = await loadCluster(nodes, { aws: [spot] })
    assert.equal(c.nodeCount, 2)
    assert.equal(c.summary().spot_price_points, 250)
    const prices = c.toJSON().aws.spot_prices
    assert.equal(prices.length, 250)
    assert.ok(prices.every((p) => p.instance_type === 'm5.large' && p.price > 0))
    const same = await loadCluster(nodes, { aws: spot })
    assert.equal(same.summary().spot_price_points, 250)
  })

  it('analyzes a real cluster, or a path directly', async () => {
    const nodes = data('k8s/honeycomb-eks-nodes.json')
    const fromCluster = await analyze(await loadCluster(nodes))
    const fromPath = await analyze(nodes)
    assert.equal(fromPath.cluster.nodes, 2)
    assert.deepStrictEqual(fromPath.toJSON(), fromCluster.toJSON())
    assert.ok(fromPath.costs.nodes_monthly_usd > 0, 'm6gd nodes are priced')
  })

  it('returns a promise and does not block the event loop', async () => {
    const path = data('k8s/honeycomb-eks-pods.json')
    // Resume in the poll phase (an fs completion): the check phase (setImmediate) comes next,
    // before any further thread-pool completion can be delivered.
    await readFile(path)
    let immediateRan = false
    setImmediate(() => {
      immediateRan = true
    })
    const p = loadCluster(path)
    assert.ok(p instanceof Promise)
    assert.match(inspect(p), /<pending>/, 'not settled synchronously')
    const c = await p
    assert.ok(immediateRan, 'a setImmediate callback ran while loading')
    assert.equal(c.podCount, 11)

    let ran = false
    setImmediate(() => {
      ran = true
    })
    const r = analyze(c)
    assert.ok(r instanceof Promise)
    assert.match(inspect(r), /<pending>/)
    await r
    assert.ok(ran, 'a setImmediate callback ran while analyzing')
  })
})
