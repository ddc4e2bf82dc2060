// propose(): pull requests from recommendations, through the binding.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cp } from 'node:fs/promises'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { demoCluster, propose } from 'cloudoptim'

import { packageDir, repoRoot, tempDir } from './helpers.mjs'

const example = join(repoRoot, 'examples', 'gitops-repo')
const TOKEN = 'ghp_NODEtestTOKEN0123456789SECRET'

const fields = (() => {
  const ts = createRequire(import.meta.url)('typescript')
  const file = join(packageDir, 'index.d.ts')
  const sf = ts.createSourceFile(file, ts.sys.readFile(file), ts.ScriptTarget.Latest, true)
  const out = new Map()
  for (const st of sf.statements) {
    if (ts.isInterfaceDeclaration(st)) {
      out.set(st.name.text, st.members.filter(ts.isPropertySignature).map((m) => m.name.getText(sf)).sort())
    }
  }
  return (name) => out.get(name)
})()

describe('propose', () => {
  it('dry run: branches, titles, bodies and diffs, with progress, touching nothing', async () => {
    const before = readFileSync(join(example, 'apps/shop/checkout.yaml'), 'utf8')
    const seen = []
    const pending = propose(demoCluster(), example, { dryRun: true, onProgress: (item) => seen.push(item) })
    assert.ok(pending instanceof Promise)
    const result = await pending
    assert.equal(result.dry_run, true)
    assert.deepEqual(seen, result.items)
    const checkout = result.items.find((i) => i.branch === 'cloudoptim/workload-rightsizing/shop-checkout-app')
    assert.equal(checkout.status, 'dry_run')
    assert.match(checkout.title, /^Right-size shop\/checkout \(app\): cpu 2 → /)
    assert.match(checkout.body, /<!-- cloudoptim:rec=co-[0-9a-f]+ -->/)
    assert.match(checkout.diff, /^--- a\/apps\/shop\/checkout.yaml/)
    assert.ok(result.items.some((i) => i.status === 'not_found'))
    assert.equal(readFileSync(join(example, 'apps/shop/checkout.yaml'), 'utf8'), before)
    // the declared shapes are the real ones
    assert.deepEqual(Object.keys(result).sort(), fields('ProposeReport'))
    // a dry run opens nothing, so only `number` and `url` are never set
    const all = new Set([...result.items.flatMap((i) => Object.keys(i)), 'number', 'url'])
    assert.deepEqual([...all].sort(), fields('ProposeItem'))
  })

  it('groups a namespace into one pull request', async () => {
    const result = await propose(demoCluster(), example, {
      dryRun: true, group: 'namespace', includeNamespaces: ['shop'],
    })
    const shop = result.items.filter((i) => i.branch === 'cloudoptim/namespace/shop')
    assert.equal(shop.length, 1)
    assert.equal(shop[0].recommendation_ids.length, 4)
  })

  it('rejects bad options with CLOUDOPTIM_GITOPS_CONFIG', async () => {
    assert.throws(() => propose(demoCluster(), example, { dryRun: true, group: 'team' }), { code: 'CLOUDOPTIM_GITOPS_CONFIG' })
    await assert.rejects(propose(demoCluster(), 'file:///nowhere/x.git', { token: TOKEN }), (e) => {
      assert.equal(e.code, 'CLOUDOPTIM_GITOPS_CONFIG')
      assert.match(e.message, /--github-repo/)
      return true
    })
  })

  const hasGit = spawnSync('git', ['--version']).status === 0
  it('a bad token rejects with CLOUDOPTIM_AUTH before anything is pushed', { skip: !hasGit && 'needs git' }, async () => {
    const server = createServer((req, res) => {
      res.writeHead(401, { 'content-type': 'application/json; charset=utf-8' })
      res.end(JSON.stringify({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' }))
    })
    await new Promise((r) => server.listen(0, '127.0.0.1', r))
    try {
      const dir = await tempDir()
      const bare = join(dir, 'gitops.git')
      const seed = join(dir, 'seed')
      await cp(example, seed, { recursive: true })
      const env = { ...process.env, GIT_AUTHOR_NAME: 'a', GIT_AUTHOR_EMAIL: 'a@x', GIT_COMMITTER_NAME: 'a', GIT_COMMITTER_EMAIL: 'a@x' }
      const git = (cwd, ...args) => assert.equal(spawnSync('git', args, { cwd, env }).status, 0, args.join(' '))
      git(dir, 'init', '-q', '--bare', '-b', 'main', bare)
      git(seed, 'init', '-q', '-b', 'main')
      git(seed, 'add', '.')
      git(seed, 'commit', '-qm', 'init')
      git(seed, 'push', '-q', bare, 'main')
      const calls = []
      await assert.rejects(
        propose(demoCluster(), `file://${bare}`, {
          githubRepo: 'acme/gitops', apiUrl: `http://127.0.0.1:${server.address().port}`, token: TOKEN,
          onProgress: (i) => calls.push(i),
        }),
        (e) => {
          assert.equal(e.code, 'CLOUDOPTIM_AUTH')
          assert.match(e.message, /401 Bad credentials/)
          assert.ok(!e.message.includes(TOKEN) && !JSON.stringify(e).includes(TOKEN))
          return true
        },
      )
      assert.deepEqual(calls, [])
      const refs = spawnSync('git', ['for-each-ref', '--format=%(refname)'], { cwd: bare, encoding: 'utf8' }).stdout.trim()
      assert.equal(refs, 'refs/heads/main')
    } finally {
      server.close()
    }
  })
})
