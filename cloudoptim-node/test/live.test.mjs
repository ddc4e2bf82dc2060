// Live sources from Node, with the CLI's flag names: the Kubernetes API (the tests crate's fake
// API server), Prometheus (Debian's, backfilled), the EC2 inventory (moto's server), and
// `apply` of an action plan through the executor.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'

import { apply, loadCluster } from 'cloudoptim'

import { data, startFakeKube, startMoto, startPrometheus } from './helpers.mjs'

const sampleNodes = () =>
  JSON.parse(readFileSync(data('k8s/honeycomb-eks-nodes.json'), 'utf8')).items.map((n) => n.metadata.name).sort()

describe('loadCluster from the Kubernetes API', () => {
  let kube
  before(async () => { kube = await startFakeKube() })
  after(() => kube?.stop())

  it('reads the cluster with { kubeconfig, context } and reports it', async () => {
    const events = []
    const cluster = await loadCluster({ kubeconfig: kube.kubeconfig, context: 'fake', onProgress: (e) => events.push(e) })
    const nodes = cluster.toJSON().nodes.map((n) => n.name).sort()
    assert.deepEqual(nodes, sampleNodes())
    assert.ok(cluster.podCount > 0)
    assert.deepEqual(events, [{ source: 'kubernetes', nodes: cluster.nodeCount, pods: cluster.podCount }])
    // the current context is the default; the same snapshot
    const again = await loadCluster({ kubeconfig: kube.kubeconfig })
    assert.deepEqual(again.toJSON(), cluster.toJSON())
  })

  it('rejects a rejected credential and an unknown context with a code, never the token', async () => {
    await assert.rejects(loadCluster({ kubeconfig: kube.kubeconfig, context: 'stale' }), (e) => {
      assert.match(e.code, /^CLOUDOPTIM_/)
      assert.match(e.message, /401|unauthori[sz]ed|credential/i)
      assert.ok(!e.message.includes('fake-token-for-tests'))
      return true
    })
    await assert.rejects(loadCluster({ kubeconfig: kube.kubeconfig, context: 'no-such-context' }), (e) => {
      assert.match(e.code, /^CLOUDOPTIM_/)
      assert.match(e.message, /no-such-context/)
      return true
    })
  })

  it('throws a TypeError for a path and a kubeconfig at once, or neither', () => {
    assert.throws(() => loadCluster({}), /needs a path, or `kubeconfig`/)
    assert.throws(() => loadCluster('cluster.json', { kubeconfig: kube.kubeconfig }), /either a path or the Kubernetes API/)
    assert.throws(() => loadCluster('cluster.json', { context: 'fake' }), /`context` needs `kubeconfig`/)
  })

  it('applies a plan: a dry run by default, the change with yes, destructive steps refused', async () => {
    const node = sampleNodes()[0]
    const unschedulable = async () =>
      (await loadCluster({ kubeconfig: kube.kubeconfig })).toJSON().nodes.find((n) => n.name === node).unschedulable
    const plan = { steps: [{ action: 'cordon', node, why: 'consolidation' }] }
    assert.equal(await unschedulable(), false)

    const dry = await apply(plan, { kubeconfig: kube.kubeconfig })
    assert.deepEqual(dry.map((o) => o.status), ['dry_run'])
    assert.equal(dry[0].step.node, node)
    assert.equal(await unschedulable(), false, 'a dry run changes nothing')

    const events = []
    const done = await apply(JSON.stringify(plan), { kubeconfig: kube.kubeconfig, context: 'fake', yes: true, onProgress: (e) => events.push(e) })
    assert.deepEqual(done.map((o) => o.status), ['done'])
    assert.equal(await unschedulable(), true)
    assert.deepEqual(events, [{ ...done[0], index: 0, total: 1 }])

    // uncordon again, then a destructive step without yes stops the plan there
    const events2 = []
    const mixed = await apply({
      steps: [
        { action: 'uncordon', node, why: 'undo' },
        { action: 'terminate_instance', instance_id: 'i-0123456789abcdef0', why: 'empty' },
        { action: 'cordon', node, why: 'never run' },
      ],
    }, { kubeconfig: kube.kubeconfig, onProgress: (e) => events2.push(e) })
    assert.deepEqual(mixed.map((o) => o.status), ['dry_run', 'failed', 'skipped'])
    assert.equal(mixed[1].code, 'not_confirmed')
    assert.deepEqual(events2.map((e) => [e.index, e.status, e.step.action]), [[0, 'dry_run', 'uncordon'], [1, 'failed', 'terminate_instance']])
    const undone = await apply({ steps: [{ action: 'uncordon', node, why: 'undo' }] }, { kubeconfig: kube.kubeconfig, yes: true })
    assert.deepEqual(undone.map((o) => o.status), ['done'])
    assert.equal(await unschedulable(), false)
  })
})

describe('apply without a cluster', () => {
  it('is a dry run of every step and rejects a malformed plan with CLOUDOPTIM_PLAN', async () => {
    const out = await apply({ steps: [{ action: 'cordon', node: 'n1', why: 'x' }, { action: 'scale', workload: 'shop/web', kind: 'Deployment', replicas: 2, why: 'y' }] })
    assert.deepEqual(out.map((o) => [o.status, o.step.action]), [['dry_run', 'cordon'], ['dry_run', 'scale']])
    await assert.rejects(apply({ steps: [{ action: 'cordon', why: 'no node' }] }), (e) => {
      assert.equal(e.code, 'CLOUDOPTIM_PLAN')
      assert.match(e.message, /steps\[0\]/)
      return true
    })
    await assert.rejects(apply('{not json'), { code: 'CLOUDOPTIM_PLAN' })
  })
})

describe('loadCluster with the EC2 inventory from AWS (moto)', () => {
  let moto
  const saved = {}
  before(async () => {
    moto = await startMoto()
    const env = {
      AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_SESSION_TOKEN: 'testing',
      AWS_ENDPOINT_URL: moto.endpoint, AWS_EC2_METADATA_DISABLED: 'true', AWS_REGION: 'eu-west-1',
    }
    for (const [k, v] of Object.entries(env)) {
      saved[k] = process.env[k]
      process.env[k] = v
    }
  })
  after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
    moto?.stop()
  })

  /** An EC2 Query API call to moto (it does not check signatures; the region is in the scope). */
  async function ec2(region, params) {
    const body = new URLSearchParams({ Version: '2016-11-15', ...params })
    const r = await fetch(moto.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${region}/ec2/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body,
    })
    const text = await r.text()
    assert.ok(r.ok, `${params.Action}: ${text}`)
    return text
  }

  it('reads instances and volumes of the region with { awsLive, region }', async () => {
    const region = 'eu-west-1'
    const images = await ec2(region, { Action: 'DescribeImages' })
    const image = /<imageId>(ami-[0-9a-f]+)<\/imageId>/.exec(images)[1]
    const run = await ec2(region, { Action: 'RunInstances', ImageId: image, MinCount: '2', MaxCount: '2', InstanceType: 'm5.large' })
    const ids = [...run.matchAll(/<instanceId>(i-[0-9a-f]+)<\/instanceId>/g)].map((m) => m[1]).sort()
    assert.equal(ids.length, 2)
    const volume = /<volumeId>(vol-[0-9a-f]+)<\/volumeId>/.exec(
      await ec2(region, { Action: 'CreateVolume', AvailabilityZone: `${region}a`, Size: '50', VolumeType: 'gp3' }),
    )[1]

    const events = []
    const path = data('k8s/honeycomb-eks-nodes.json')
    const cluster = await loadCluster(path, { awsLive: true, region, onProgress: (e) => events.push(e) })
    const aws = cluster.toJSON().aws
    assert.deepEqual(aws.instances.map((i) => i.instance_id).filter((id) => ids.includes(id)).sort(), ids)
    assert.ok(aws.instances.every((i) => i.instance_type), 'types converted')
    assert.ok(aws.volumes.some((v) => v.volume_id === volume))
    assert.equal(events.length, 1)
    assert.equal(events[0].source, 'aws')
    assert.equal(events[0].instances, aws.instances.length)
    assert.equal(events[0].volumes, aws.volumes.length)
    // another region of the same server holds none of them
    const other = await loadCluster(path, { awsLive: true, region: 'ap-southeast-2' })
    assert.ok(!other.toJSON().aws.instances.some((i) => ids.includes(i.instance_id)))
    // without awsLive, nothing is read from AWS
    assert.deepEqual((await loadCluster(path)).toJSON().aws.instances, [])
  })
})

describe('loadCluster with usage history from Prometheus', () => {
  let prom
  const end = Math.floor((Date.now() / 1000 - 3600) / 3600) * 3600
  const containers = [['shop', 'web-7d4f9-abcde', 'web', 0.25, 300e6], ['batch', 'etl-0', 'etl', 1.5, 2e9]]
  before(async () => {
    let om = ''
    for (const [ns, pod, container, cores, bytes] of containers) {
      const labels = `namespace="${ns}",pod="${pod}",container="${container}"`
      let total = 0
      for (let t = end - 2 * 86400 - 960; t <= end; t += 120) {
        total += cores * 120
        om += `container_cpu_usage_seconds_total{${labels}} ${total} ${t}\n`
        om += `container_memory_working_set_bytes{${labels}} ${bytes} ${t}\n`
      }
    }
    // OpenMetrics wants each series' samples together
    const lines = om.trim().split('\n')
    om = [...lines.filter((l) => l.startsWith('container_cpu')), ...lines.filter((l) => l.startsWith('container_mem'))].join('\n')
    prom = await startPrometheus(`${om}\n# EOF\n`)
  })
  after(() => prom?.stop())

  it('reads { prometheus, days } into the usage history, with a progress event per query', async () => {
    const events = []
    const path = data('k8s/honeycomb-eks-nodes.json')
    const cluster = await loadCluster(path, { prometheus: prom.url, days: 2, onProgress: (e) => events.push(e) })
    const usage = JSON.stringify(cluster.toJSON().usage)
    for (const [ns, pod, container] of containers) {
      for (const part of [ns, pod, container]) assert.ok(usage.includes(part), `${part} in the usage history`)
    }
    assert.ok(events.length > 0)
    assert.ok(events.every((e) => e.source === 'prometheus' && e.total === events[0].total))
    assert.deepEqual(events.map((e) => e.done), events.map((_, i) => i + 1))
    assert.equal(events.at(-1).done, events.at(-1).total)
    // without it, the file alone has no usage
    assert.ok(!JSON.stringify((await loadCluster(path)).toJSON().usage).includes('etl-0'))
  })

  it('rejects an unreachable Prometheus with a CLOUDOPTIM_PROMETHEUS_ code', async () => {
    await assert.rejects(loadCluster(data('k8s/honeycomb-eks-nodes.json'), { prometheus: 'http://127.0.0.1:9', days: 1, prometheusTimeout: 1 }), (e) => {
      assert.match(e.code, /^CLOUDOPTIM_PROMETHEUS_/)
      assert.match(e.message, /127\.0\.0\.1:9/)
      return true
    })
  })
})
