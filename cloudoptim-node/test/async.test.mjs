// Everything that does I/O or heavy work returns a Promise and runs off the event loop: the
// loop keeps turning (a setImmediate counter advances) while the work runs on the thread pool.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import * as co from 'cloudoptim'

import { tempDir } from './helpers.mjs'

/**
 * A large cluster as `kubectl get nodes,pods -o json` writes it: `nodes` m5.2xlarge nodes in
 * three zones, each running `podsPerNode` Deployment pods that use a fraction of it.
 */
function bigCluster(nodes, podsPerNode) {
  const items = []
  for (let n = 0; n < nodes; n++) {
    const zone = `us-east-1${'abc'[n % 3]}`
    const name = `ip-10-0-${Math.floor(n / 250)}-${n % 250}.ec2.internal`
    items.push({
      apiVersion: 'v1', kind: 'Node',
      metadata: {
        name, creationTimestamp: '2026-01-01T00:00:00Z',
        labels: {
          'node.kubernetes.io/instance-type': 'm5.2xlarge', 'topology.kubernetes.io/zone': zone,
          'topology.kubernetes.io/region': 'us-east-1', 'eks.amazonaws.com/nodegroup': `group-${n % 4}`,
          'eks.amazonaws.com/capacityType': 'ON_DEMAND',
        },
      },
      spec: { providerID: `aws:///${zone}/i-${(0x10000000 + n).toString(16).padStart(17, '0')}` },
      status: {
        capacity: { cpu: '8', memory: '32Gi', pods: '58' },
        allocatable: { cpu: '7910m', memory: '31Gi', pods: '58' },
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    })
    for (let p = 0; p < podsPerNode; p++) {
      const app = `app-${(n * podsPerNode + p) % 40}`
      items.push({
        apiVersion: 'v1', kind: 'Pod',
        metadata: {
          name: `${app}-${n}-${p}`, namespace: `team-${(n + p) % 6}`, labels: { app },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${app}-5d8f7`, controller: true }],
        },
        spec: {
          nodeName: name,
          containers: [{ name: 'main', image: 'example/app:1', resources: { requests: { cpu: `${100 + 50 * (p % 5)}m`, memory: `${256 * (1 + (p % 3))}Mi` } } }],
        },
        status: { phase: 'Running' },
      })
    }
  }
  return { apiVersion: 'v1', kind: 'List', items }
}

/** Runs `work()` while a setImmediate loop counts turns of the event loop; returns the turns and the result. */
async function countTurns(work) {
  let turns = 0
  let running = true
  const spin = () => {
    if (!running) return
    turns++
    setImmediate(spin)
  }
  setImmediate(spin)
  const pending = work()
  assert.ok(pending instanceof Promise, 'returns a Promise')
  const startTurns = turns
  const result = await pending
  running = false
  return { turns: turns - startTurns, result }
}

describe('heavy calls run off the event loop', () => {
  it('consolidate of a large cluster: the event loop keeps turning meanwhile', async (t) => {
    const path = join(await tempDir(), 'big.json')
    await writeFile(path, JSON.stringify(bigCluster(160, 12)))
    const cluster = await co.loadCluster(path)
    assert.equal(cluster.nodeCount, 160)
    const { turns, result } = await countTurns(() => co.consolidate(cluster, { mode: 'remove' }))
    assert.ok(result instanceof co.Plan)
    assert.ok(result.removed.length > 0, 'nodes at low use are removed')
    assert.ok(turns > 0, `the event loop turned ${turns} times during consolidate`)
    t.diagnostic(`event loop turns during consolidate of 160 nodes, 1,920 pods: ${turns}`)
    // and a synchronous call blocks it: nothing turns while it runs
    let syncTurns = 0
    let on = true
    const spin = () => { if (on) { syncTurns++; setImmediate(spin) } }
    setImmediate(spin)
    co.demoCluster()
    assert.equal(syncTurns, 0)
    on = false
  })

  it('every export doing I/O or heavy work returns a Promise', async () => {
    const demo = co.demoCluster()
    const dir = await tempDir()
    const change = { target: { kind: 'NodeGroup', cluster: 'c', name: 'g' }, set: { min_size: 1 } }
    const missing = join(dir, 'missing.json')
    // inputs that fail fast: a Promise is what is checked here, not the work
    const calls = {
      loadCluster: () => co.loadCluster(missing),
      analyze: () => co.analyze(missing),
      consolidate: () => co.consolidate(missing),
      propose: () => co.propose(missing, dir, { dryRun: true }),
      locate: () => co.locate(dir, change),
      patch: () => co.patch(dir, change, { dryRun: true }),
      scoreSpotTypes: () => co.scoreSpotTypes('m5.large'),
      spotReadiness: () => co.spotReadiness(missing),
      planInterruption: () => co.planInterruption(demo, '{}'),
      apply: () => co.apply({ steps: [] }),
    }
    for (const [name, call] of Object.entries(calls)) {
      const p = call()
      assert.ok(p instanceof Promise, `${name} returns a Promise`)
      await p.catch(() => {})
    }
  })
})
