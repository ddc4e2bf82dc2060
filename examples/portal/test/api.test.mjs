// The JSON API and the pages without script, over HTTP: what the list, previews and proposals
// return compared with the package's own analyze() and propose(), errors, escaping.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import { analyze, demoCluster, propose } from 'cloudoptim'

import { createPortal } from '../src/portal.mjs'
import { gitopsRepo, portalDir, snapshot, startPortal, usd } from './helpers.mjs'

/** The package's own dry run, on a copy of the example repository. */
async function packageDryRun(options = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'portal-test-'))
  try {
    await cp(gitopsRepo, join(dir, 'repo'), { recursive: true })
    return await propose(demoCluster(), join(dir, 'repo'), { dryRun: true, ...options })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const HOSTILE = '<img src=x onerror="globalThis.pwned=1"> & "quotes"'

/** A custom analyzer whose finding has markup in its title and namespace. */
const hostile = {
  name: 'hostile-titles',
  analyze: () => [{
    kind: 'custom',
    title: HOSTILE,
    target: { namespace: '<b>ns</b>' },
    monthly_savings_usd: 4321.5,
    risk: { level: 'high', reasons: ['"><script>alert(1)</script>'] },
  }],
}

describe('JSON API', () => {
  let server
  let expected
  let repoBefore
  before(async () => {
    repoBefore = await snapshot(gitopsRepo)
    server = await startPortal()
    expected = (await analyze(demoCluster())).toJSON()
  })
  after(async () => {
    await server?.close()
    assert.deepStrictEqual(await snapshot(gitopsRepo), repoBefore, 'the example repository was changed')
  })

  const get = async (path, init) => {
    const res = await fetch(server.url + path, init)
    return { status: res.status, type: res.headers.get('content-type'), headers: res.headers, body: await res.text() }
  }
  const json = async (path, init) => {
    const r = await get(path, init)
    assert.match(r.type, /^application\/json/)
    return { ...r, body: JSON.parse(r.body) }
  }

  it('lists the recommendations of analyze(), largest saving first, with its totals', async () => {
    const { status, body } = await json('/api/recommendations')
    assert.equal(status, 200)
    assert.equal(body.sort, 'savings')
    assert.deepStrictEqual(body.totals, expected.totals)
    assert.deepStrictEqual(body.recommendations, expected.recommendations)
    const savings = body.recommendations.map((r) => r.monthly_savings_usd)
    assert.deepEqual(savings, [...savings].sort((a, b) => b - a))
  })

  it('sorts by risk, kind, target and confidence both ways', async () => {
    const rank = { low: 0, medium: 1, high: 2 }
    const risk = (await json('/api/recommendations?sort=risk')).body.recommendations.map((r) => rank[r.risk.level])
    assert.deepEqual(risk, [...risk].sort((a, b) => a - b))
    assert.ok(new Set(risk).size > 1, 'the demo has more than one risk level')
    const desc = (await json('/api/recommendations?sort=risk&dir=desc')).body.recommendations.map((r) => rank[r.risk.level])
    assert.deepEqual(desc, [...risk].reverse().sort((a, b) => b - a))
    const kinds = (await json('/api/recommendations?sort=kind')).body.recommendations.map((r) => r.kind)
    assert.deepEqual(kinds, [...kinds].sort())
    const conf = (await json('/api/recommendations?sort=confidence')).body.recommendations.map((r) => r.confidence)
    assert.deepEqual(conf, [...conf].sort((a, b) => b - a))
    const asc = (await json('/api/recommendations?sort=savings&dir=asc')).body.recommendations
    assert.equal(asc.length, expected.recommendations.length)
    assert.equal(asc[0].monthly_savings_usd, Math.min(...expected.recommendations.map((r) => r.monthly_savings_usd)))
  })

  it('refuses an unknown sort with a 400 naming it', async () => {
    const { status, body } = await json('/api/recommendations?sort=price')
    assert.equal(status, 400)
    assert.equal(body.error.code, 'PORTAL_BAD_SORT')
    assert.match(body.error.message, /`price`/)
    assert.equal((await json('/api/recommendations?dir=up')).status, 400)
    for (const name of ['__proto__', 'constructor', 'toString']) {
      const r = await json(`/api/recommendations?sort=${name}`)
      assert.equal(r.status, 400, name)
      assert.equal(r.body.error.code, 'PORTAL_BAD_SORT')
      assert.equal((await get(`/?sort=${name}`)).status, 400, name)
    }
  })

  it('summarises the cluster and costs as analyze() does', async () => {
    const { body } = await json('/api/summary')
    assert.equal(body.source, 'demo')
    assert.equal(body.repository, gitopsRepo)
    assert.deepStrictEqual(body.cluster, expected.cluster)
    assert.deepStrictEqual(body.costs, expected.costs)
    assert.deepStrictEqual(body.analyzers, expected.analyzers)
  })

  it('previews the pull request of a recommendation with the diff propose() makes', async () => {
    const dry = await packageDryRun()
    const item = dry.items.find((i) => i.status === 'dry_run' && i.recommendation_ids.length === 1)
    assert.ok(item, 'the demo has a recommendation the example repository can take')
    const [id] = item.recommendation_ids
    const { status, body } = await json(`/api/recommendations/${id}/preview`)
    assert.equal(status, 200)
    assert.equal(body.status, 'dry_run')
    assert.equal(body.branch, item.branch)
    assert.equal(body.pr_title, item.title)
    assert.deepEqual(body.files, item.files)
    assert.equal(body.diff, item.diff)
    const lines = body.diff.split('\n')
    assert.ok(lines.some((l) => l.startsWith('+') && !l.startsWith('+++')))
    assert.ok(lines.some((l) => l.startsWith('-') && !l.startsWith('---')))
  })

  it('says why a recommendation makes no pull request', async () => {
    const dry = await packageDryRun()
    const skipped = dry.items.find((i) => i.status === 'not_applicable')
    assert.ok(skipped, 'the demo has a finding that is no repository change')
    const { body } = await json(`/api/recommendations/${skipped.recommendation_ids[0]}/preview`)
    assert.equal(body.status, 'not_applicable')
    assert.equal(body.reason, skipped.reason)
    assert.equal(body.diff, '')
  })

  it('answers 404 with a code for an unknown recommendation or path', async () => {
    for (const path of ['/api/recommendations/co-nope', '/api/recommendations/co-nope/preview']) {
      const { status, body } = await json(path)
      assert.equal(status, 404)
      assert.deepEqual(body.error, { code: 'PORTAL_NOT_FOUND', message: 'no recommendation with id `co-nope`' })
    }
    assert.equal((await json('/api/nothing')).status, 404)
    const page = await get('/recommendations/%3Cscript%3E')
    assert.equal(page.status, 404)
    assert.ok(page.body.includes('no recommendation with id `&lt;script&gt;`'), page.body)
    assert.ok(!page.body.includes('<script>'))
  })

  it('runs the dry-run proposal as propose() does, writing nothing', async () => {
    for (const group of ['none', 'namespace']) {
      const want = await packageDryRun({ group })
      const { status, body } = await json('/api/propose', {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ group }),
      })
      assert.equal(status, 200)
      assert.equal(body.dry_run, true)
      assert.equal(body.repository, gitopsRepo)
      assert.deepStrictEqual(body.items, want.items)
    }
    const bad = await json('/api/propose', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ group: 'team' }),
    })
    assert.equal(bad.status, 400)
    assert.equal(bad.body.error.code, 'PORTAL_BAD_GROUP')
    const broken = await json('/api/propose', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })
    assert.equal(broken.status, 400)
  })

  it('renders the pages without script: list, one recommendation, the proposal form', async () => {
    const index = await get('/')
    assert.equal(index.status, 200)
    assert.match(index.headers.get('content-security-policy'), /default-src 'self'/)
    for (const r of expected.recommendations) assert.ok(index.body.includes(`data-id="${r.id}"`), r.id)
    assert.ok(index.body.includes(`<span class="value" id="total-savings">${usd(expected.totals.monthly_savings_usd)}</span>`))

    const dry = await packageDryRun()
    const item = dry.items.find((i) => i.status === 'dry_run')
    const page = await get(`/recommendations/${item.recommendation_ids[0]}`)
    assert.equal(page.status, 200)
    assert.ok(page.body.includes(`<code>${item.branch}</code>`))
    assert.match(page.body, /<span class="add">\+/)
    assert.match(page.body, /<span class="del">-/)

    const proposal = await get('/propose', {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'group=none',
    })
    assert.equal(proposal.status, 200)
    for (const i of dry.items.filter((i) => i.branch)) assert.ok(proposal.body.includes(`<code>${i.branch}</code>`), i.branch)
  })
})

describe('escaping', () => {
  it('shows markup in names and titles as text', async () => {
    const server = await startPortal({ extraAnalyzers: [hostile] })
    try {
      const html = await (await fetch(server.url + '/')).text()
      assert.ok(!html.includes('<img'), 'a title became markup')
      assert.ok(!html.includes('<script>alert'), 'a risk reason became markup')
      assert.ok(!html.includes('<b>ns</b>'))
      assert.ok(html.includes('&lt;img src=x onerror=&quot;globalThis.pwned=1&quot;&gt; &amp; &quot;quotes&quot;'))
      const list = await (await fetch(server.url + '/api/recommendations')).json()
      assert.equal(list.recommendations[0].title, HOSTILE, 'the API returns data unchanged')
    } finally {
      await server.close()
    }
  })
})

describe('configuration', () => {
  it('refuses a repository that is missing or a file, naming it', async () => {
    await assert.rejects(createPortal({ repo: join(gitopsRepo, 'missing') }), (e) => {
      assert.equal(e.code, 'PORTAL_CONFIG')
      assert.ok(e.message.includes(join(gitopsRepo, 'missing')), e.message)
      return true
    })
    await assert.rejects(createPortal({ repo: join(gitopsRepo, 'README.md') }), { code: 'PORTAL_CONFIG', message: /is not a folder/ })
  })

  it('refuses an unknown filter key, naming it', async () => {
    for (const key of ['strategy', 'toString']) {
      await assert.rejects(createPortal({ repo: gitopsRepo, filters: { [key]: 'x' } }), {
        code: 'PORTAL_CONFIG', message: new RegExp(`unknown key \`${key}\``),
      })
    }
  })

  it('applies namespace filters to the list and the proposals alike', async () => {
    const portal = await createPortal({ repo: gitopsRepo, filters: { include_namespaces: ['shop'] } })
    const recs = portal.report.recommendations
    assert.ok(recs.length > 0)
    // cluster-wide findings (nodes, volumes) have no namespace and stay
    const namespaces = new Set(recs.map((r) => r.target.namespace).filter(Boolean))
    assert.deepEqual([...namespaces], ['shop'])
    const all = (await analyze(demoCluster())).toJSON().recommendations
    assert.ok(all.some((r) => r.target.namespace && r.target.namespace !== 'shop'))
    const result = await portal.propose('none')
    const ids = new Set(recs.map((r) => r.id))
    assert.ok(result.items.length > 0)
    assert.ok(result.items.every((i) => i.recommendation_ids.every((id) => ids.has(id))))
  })

  it('loads a kubectl dump instead of the demo, and names a bad one', async () => {
    const dump = join(gitopsRepo, 'apps', 'shop')
    const portal = await createPortal({ repo: gitopsRepo, clusterPath: dump, clusterName: 'from-manifests' })
    assert.equal(portal.source, dump)
    assert.equal(portal.report.cluster.name, 'from-manifests')
    assert.ok(portal.report.cluster.workloads > 0)
    const missing = join(gitopsRepo, 'no-such-dump.json')
    await assert.rejects(createPortal({ repo: gitopsRepo, clusterPath: missing }), (e) => {
      assert.equal(e.code, 'CLOUDOPTIM_IO')
      assert.ok(e.message.includes(missing), e.message)
      return true
    })
  })
})

describe('server.mjs (npm start)', () => {
  const serverFile = join(portalDir, 'server.mjs')

  /** Runs `server.mjs` with `env` added, until `use(url)` returns. */
  async function withServer(env, use) {
    const child = spawn(process.execPath, [serverFile], { env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
    try {
      const [line] = await once(createInterface({ input: child.stdout }), 'line')
      const url = line.match(/on (http:\/\/127\.0\.0\.1:\d+)\/$/)?.[1]
      assert.ok(url, line)
      await use(url, line)
    } finally {
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
  }

  it('loads the dump and cluster name the environment names, on a port the OS picks', async () => {
    const dump = join(gitopsRepo, 'apps')
    await withServer({ CLOUDOPTIM_PORTAL_CLUSTER: dump, CLOUDOPTIM_PORTAL_CLUSTER_NAME: 'env-cluster' }, async (url, line) => {
      assert.ok(line.startsWith('cloudoptim portal: env-cluster ('), line)
      const summary = await (await fetch(`${url}/api/summary`)).json()
      assert.equal(summary.source, dump)
      assert.equal(summary.cluster.name, 'env-cluster')
      assert.equal(summary.cluster.workloads, 4)
      assert.equal(summary.repository, gitopsRepo)
    })
  })

  it('applies the namespace filters of the environment', async () => {
    const all = (await analyze(demoCluster())).toJSON().recommendations
    assert.ok(all.some((r) => r.target.namespace === 'shop'))
    await withServer({ CLOUDOPTIM_PORTAL_EXCLUDE_NAMESPACES: 'shop, dev-*' }, async (url) => {
      const { recommendations } = await (await fetch(`${url}/api/recommendations`)).json()
      assert.ok(recommendations.length > 0)
      assert.deepEqual(
        recommendations.map((r) => r.id),
        all.filter((r) => r.target.namespace !== 'shop' && !r.target.namespace?.startsWith('dev-')).map((r) => r.id),
      )
    })
  })

  it('exits 1 naming the file when the cluster dump cannot be read', () => {
    const missing = join(gitopsRepo, 'no-such-dump.json')
    const r = spawnSync(process.execPath, [serverFile], {
      env: { ...process.env, PORT: '0', CLOUDOPTIM_PORTAL_CLUSTER: missing },
      encoding: 'utf8',
    })
    assert.equal(r.status, 1)
    assert.ok(r.stderr.includes(missing), r.stderr)
    assert.match(r.stderr, /\(CLOUDOPTIM_IO\)/)
  })

  it('exits 2 for a port that is no port', () => {
    const r = spawnSync(process.execPath, [serverFile], { env: { ...process.env, PORT: 'eighty' }, encoding: 'utf8' })
    assert.equal(r.status, 2)
    assert.match(r.stderr, /PORT: `eighty` is not a port number/)
  })
})
