// Spot through the binding: risk scores, readiness and the interruption plan.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import * as co from 'cloudoptim'

import { runCli } from './helpers.mjs'

describe('spot', () => {
  it('scores types lowest risk first, as the CLI does', async () => {
    const scores = await co.scoreSpotTypes('m5.*')
    assert.ok(scores.length > 0)
    assert.ok(scores.every((s) => s.instance_type.startsWith('m5.')))
    const risks = scores.map((s) => s.risk)
    assert.deepEqual(risks, [...risks].sort((a, b) => a - b))
    const cli = runCli('spot', 'score', '--types', 'm5.*', '--format', 'json')
    assert.deepEqual(JSON.parse(cli), scores)
    await assert.rejects(co.scoreSpotTypes('*', { prices: '/no/such/file.json' }), (e) => e.code === 'CLOUDOPTIM_IO')
  })

  it('lists readiness with reasons, as a Promise, for a cluster or a path', async () => {
    const pending = co.spotReadiness(co.demoCluster())
    assert.ok(pending instanceof Promise)
    const ready = await pending
    const shell = ready.find((r) => r.workload === 'default/debug-shell')
    assert.equal(shell.ready, false)
    assert.equal(shell.reason, 'a bare pod with no controller')
    assert.ok(ready.some((r) => r.ready))
    await assert.rejects(co.spotReadiness('/no/such/cluster.json'), (e) => e.code === 'CLOUDOPTIM_IO')
  })

  it('plans an interruption: cordon ours, leave others, quarantine garbage', async () => {
    const demo = co.demoCluster()
    const node = demo.toJSON().nodes.find((n) => n.instance_id)
    const event = {
      version: '0', id: 'node-1', 'detail-type': 'EC2 Spot Instance Interruption Warning',
      source: 'aws.ec2', time: '2026-11-26T10:00:00Z', region: 'us-east-1',
      detail: { 'instance-id': node.instance_id, 'instance-action': 'terminate' },
    }
    const plan = await co.planInterruption(demo, JSON.stringify(event))
    assert.deepEqual(plan.nodes, [node.name])
    assert.deepEqual(plan.actions[0], { action: 'cordon', node: node.name })
    event.detail['instance-id'] = 'i-0notours'
    assert.deepEqual((await co.planInterruption(demo, JSON.stringify(event))).actions.map((a) => a.action), ['leave_message'])
    assert.equal((await co.planInterruption(demo, '{not json')).parsed.outcome, 'quarantine')
  })
})
