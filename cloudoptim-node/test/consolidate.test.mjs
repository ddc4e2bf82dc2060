// Consolidation plans through the binding: bounds, assignments, the CLI's JSON and the schema.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'

import * as co from 'cloudoptim'

import { data, runCli, tempDir } from './helpers.mjs'

for (const mode of ['remove', 'replace']) {
  describe(`consolidate(demoCluster(), { mode: '${mode}' })`, () => {
    let cluster
    let plan
    before(async () => {
      cluster = co.demoCluster()
      plan = await co.consolidate(cluster, { mode })
    })

    it('returns a Plan whose costs sit between the LP bound and the cost before', () => {
      assert.ok(plan instanceof co.Plan)
      assert.throws(() => new co.Plan(), 'Plan has no public constructor')
      assert.equal(plan.mode, mode)
      assert.ok(plan.lowerBoundHourly > 0)
      assert.ok(plan.lowerBoundHourly <= plan.costAfterHourly, `${plan.lowerBoundHourly} > ${plan.costAfterHourly}`)
      assert.ok(plan.costAfterHourly < plan.costBeforeHourly)
      assert.ok(Math.abs(plan.monthlySaving - (plan.costBeforeHourly - plan.costAfterHourly) * 730) < 1e-6)
      const gap = (plan.costAfterHourly - plan.lowerBoundHourly) / plan.lowerBoundHourly
      assert.ok(Math.abs(plan.gapToBound - gap) < 1e-3)
      assert.equal(typeof plan.solver, 'string')
    })

    it('places every active pod but DaemonSet (and static) pods, or says why not', () => {
      const expected = new Set(
        cluster
          .toJSON()
          .pods.filter((p) => p.phase !== 'Succeeded' && p.phase !== 'Failed')
          .filter((p) => !p.controller || (p.controller[0] !== 'DaemonSet' && p.controller[0] !== 'Node'))
          .map((p) => `${p.namespace}/${p.name}`),
      )
      assert.ok(expected.size > 0)
      const assigned = plan.assignments.map((a) => a.pod)
      const unplaced = plan.unplaced.map((u) => u.pod)
      assert.equal(new Set(assigned).size, assigned.length, 'a pod is assigned once')
      assert.deepEqual(new Set([...assigned, ...unplaced]), expected)
      const nodes = new Set(plan.nodes.map((n) => n.name))
      assert.ok(plan.assignments.every((a) => nodes.has(a.node)))
    })

    it('removes nodes of the cluster; remove mode adds none', () => {
      const before = new Set(cluster.toJSON().nodes.map((n) => n.name))
      assert.ok(plan.removed.length > 0)
      assert.ok(plan.removed.every((n) => before.has(n)))
      const kept = plan.nodes.filter((n) => !n.new).map((n) => n.name)
      assert.deepEqual(new Set(kept), new Set([...before].filter((n) => !plan.removed.includes(n))))
      if (mode === 'remove') {
        assert.ok(plan.nodes.every((n) => n.new === false), 'remove mode adds no node')
        assert.ok(plan.steps.every((s) => s.added.length === 0))
      }
      const after = plan.nodes.reduce((sum, n) => sum + n.hourly_cost, 0)
      assert.ok(Math.abs(after - plan.costAfterHourly) < 1e-3)
    })

    it('toJSON() deep-equals the CLI `cloudoptim consolidate --demo --format json`', () => {
      const stdout = runCli('consolidate', '--demo', '--mode', mode, '--format', 'json')
      assert.deepStrictEqual(plan.toJSON(), JSON.parse(stdout))
      assert.equal(plan.toJsonString() + '\n', stdout)
      assert.deepStrictEqual(JSON.parse(JSON.stringify(plan)), plan.toJSON())
    })

    it('toTable() is the CLI table', () => {
      assert.equal(plan.toTable(), runCli('consolidate', '--demo', '--mode', mode))
      assert.match(plan.toTable(), new RegExp(`^Consolidation \\(${mode}\\): `))
    })

    it('the getters are the JSON fields', () => {
      const j = plan.toJSON()
      const getters = {
        mode: 'mode',
        costBeforeHourly: 'cost_before_hourly',
        costAfterHourly: 'cost_after_hourly',
        lowerBoundHourly: 'lower_bound_hourly',
        gapToBound: 'gap_to_bound',
        nodes: 'nodes',
        removed: 'removed',
        assignments: 'assignments',
        unplaced: 'unplaced',
        blocked: 'blocked',
        steps: 'steps',
        solver: 'solver',
      }
      assert.deepEqual(Object.values(getters).sort(), Object.keys(j).sort())
      for (const [getter, key] of Object.entries(getters)) assert.deepStrictEqual(plan[getter], j[key], getter)
    })

    it('follows planSchema(): the required keys and their JSON types', () => {
      const schema = co.planSchema()
      assert.equal(schema.title, 'Plan')
      checkObject(plan.toJSON(), schema, schema, 'plan')
    })
  })
}

/** A light JSON Schema check: required keys present, every property of the declared type. */
function checkObject(value, node, root, where) {
  if (node.$ref) return checkObject(value, root.$defs[node.$ref.split('/').pop()], root, where)
  const types = Array.isArray(node.type) ? node.type : [node.type]
  const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value
  const ok = types.some(
    (t) => t === actual || (t === 'integer' && Number.isInteger(value)) || (t === 'number' && actual === 'number'),
  )
  assert.ok(ok, `${where}: ${actual} is not ${types.join('|')}`)
  if (actual === 'object') {
    for (const key of node.required ?? []) assert.ok(key in value, `${where}: missing ${key}`)
    for (const [key, v] of Object.entries(value)) {
      assert.ok(node.properties?.[key], `${where}: unexpected ${key}`)
      checkObject(v, node.properties[key], root, `${where}.${key}`)
    }
  } else if (actual === 'array') {
    value.forEach((v, i) => checkObject(v, node.items, root, `${where}[${i}]`))
  }
}

describe('consolidate options and errors', () => {
  it('allowTypes restricts new nodes, as the CLI --allow-types does', async () => {
    const plan = await co.consolidate(co.demoCluster(), { allowTypes: ['m6i.*', 'c6i.*'] })
    const added = plan.nodes.filter((n) => n.new).map((n) => n.instance_type)
    assert.ok(added.length > 0 && added.every((t) => t.startsWith('m6i.') || t.startsWith('c6i.')), added.join())
    const cli = JSON.parse(runCli('consolidate', '--demo', '--allow-types', 'm6i.*,c6i.*', '--format', 'json'))
    assert.deepStrictEqual(plan.toJSON(), cli)
  })

  it('defaults to replace and prices in the region asked for', async () => {
    const plan = await co.consolidate(co.demoCluster())
    assert.equal(plan.mode, 'replace')
    const eu = await co.consolidate(co.demoCluster(), { region: 'eu-west-1' })
    assert.notEqual(eu.costBeforeHourly, plan.costBeforeHourly)
  })

  it('takes a path, loaded first', async () => {
    const path = data('k8s/honeycomb-eks-nodes.json')
    const fromPath = await co.consolidate(path, { mode: 'remove' })
    const loaded = await co.consolidate(await co.loadCluster(path), { mode: 'remove' })
    assert.deepStrictEqual(fromPath.toJSON(), loaded.toJSON())
  })

  it('rejects an unknown mode with CLOUDOPTIM_PACKING and a missing file with CLOUDOPTIM_IO', async () => {
    await assert.rejects(co.consolidate(co.demoCluster(), { mode: 'shrink' }), (e) => {
      assert.equal(e.code, 'CLOUDOPTIM_PACKING')
      assert.match(e.message, /shrink/)
      return true
    })
    const missing = join(await tempDir(), 'missing.json')
    await assert.rejects(co.consolidate(missing), { code: 'CLOUDOPTIM_IO', path: missing })
    assert.throws(() => co.consolidate(42))
  })

  it('runs off the event loop', async () => {
    let ticks = 0
    const timer = setInterval(() => ticks++, 0)
    try {
      await co.consolidate(co.demoCluster())
    } finally {
      clearInterval(timer)
    }
    assert.ok(ticks > 0, 'the event loop ran while the plan was made')
  })
})
