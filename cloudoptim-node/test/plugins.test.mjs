// Plug-ins written in JavaScript that the Rust engine calls like its own parts: a spot risk
// scorer (`scoreSpotTypes(…, { scorer })`) and IaC locators (`locate`/`patch(…, { locators })`).
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { locate, patch, scoreSpotTypes } from 'cloudoptim'

import { tempDir } from './helpers.mjs'

describe('spot risk scorer plug-in', () => {
  it('scores every type like the built-in scorer would, and the results follow its risk', async () => {
    const builtin = await scoreSpotTypes('m5.*')
    const seen = []
    // the inverse of the built-in risk: the order must turn around
    const scorer = {
      name: 'inverse',
      score(input) {
        assert.equal(this, scorer, '`this` is the scorer object')
        seen.push(input.instanceType)
        return { risk: 1 - input.builtin.risk, explanation: `inverse of ${input.builtin.risk.toFixed(3)}` }
      },
    }
    const scores = await scoreSpotTypes('m5.*', { scorer })
    assert.deepEqual([...seen].sort(), builtin.map((s) => s.instance_type).sort())
    const byType = new Map(builtin.map((s) => [s.instance_type, s]))
    for (const s of scores) {
      const b = byType.get(s.instance_type)
      assert.ok(Math.abs(s.risk - (1 - b.risk)) < 1e-12, s.instance_type)
      assert.equal(s.explanation, `inverse of ${b.risk.toFixed(3)}`)
      // fields the scorer leaves out keep the built-in values
      assert.equal(s.rate, b.rate)
      assert.equal(s.spot_hourly, b.spot_hourly)
    }
    const risks = scores.map((s) => s.risk)
    assert.deepEqual(risks, [...risks].sort((a, b) => a - b), 'lowest risk first, as with the built-in scorer')
    assert.notDeepEqual(scores.map((s) => s.instance_type), builtin.map((s) => s.instance_type))
  })

  it('takes a plain function and async answers; hot-swapping changes the next run', async () => {
    const types = (await scoreSpotTypes('c5.*')).map((s) => s.instance_type)
    let pick = 'c5.large'
    const favourite = async function favourite(input) {
      await new Promise((r) => setImmediate(r))
      return { risk: input.instanceType === pick ? 0 : 1 }
    }
    const first = await scoreSpotTypes('c5.*', { scorer: favourite })
    assert.equal(first[0].instance_type, 'c5.large')
    assert.equal(first[0].risk, 0)
    // replace the plug-in's behaviour, run again
    pick = types.find((t) => t !== 'c5.large')
    const second = await scoreSpotTypes('c5.*', { scorer: favourite })
    assert.equal(second[0].instance_type, pick)
    const other = { name: 'flat', score: () => ({ risk: 0.5 }) }
    assert.ok((await scoreSpotTypes('c5.*', { scorer: other })).every((s) => s.risk === 0.5))
    // a run without the plug-in is the built-in again
    assert.deepEqual(await scoreSpotTypes('c5.*'), await scoreSpotTypes('c5.*'))
  })

  it('rejects with CLOUDOPTIM_PLUGIN naming the plug-in and the field for a garbage answer', async () => {
    const cases = [
      [{ risk: 'high' }, 'risk', /`risk` must be a number from 0 to 1, not "high"/],
      [{ risk: 1.5 }, 'risk', /from 0 to 1, not 1.5/],
      [{ explanation: 'no risk' }, 'risk', /`risk` is missing/],
      [{ risk: 0.2, riks: 0.1 }, 'riks', /unknown field `riks`/],
      [{ risk: 0.2, explanation: 7 }, 'explanation', /must be a string/],
    ]
    for (const [answer, field, message] of cases) {
      await assert.rejects(scoreSpotTypes('m5.*', { scorer: { name: 'broken', score: () => answer } }), (e) => {
        assert.equal(e.code, 'CLOUDOPTIM_PLUGIN')
        assert.equal(e.plugin, 'broken')
        assert.equal(e.role, 'scorer')
        assert.equal(e.field, field)
        assert.deepEqual(e.details, { plugin: 'broken', role: 'scorer', field })
        assert.match(e.message, /^scorer plug-in "broken": invalid score for m5\./)
        assert.match(e.message, message)
        return true
      })
    }
    await assert.rejects(scoreSpotTypes('m5.*', { scorer: { name: 'nothing', score: () => 42 } }), (e) => {
      assert.equal(e.code, 'CLOUDOPTIM_PLUGIN')
      assert.equal(e.field, undefined)
      assert.match(e.message, /must return an object like \{ risk, explanation \}, not 42/)
      return true
    })
  })

  it('makes a thrown error (or a rejection) the cause, and calls the plug-in no more', async () => {
    const thrown = new RangeError('no data for this region')
    let calls = 0
    const scorer = { name: 'thrower', score: () => { calls++; throw thrown } }
    await assert.rejects(scoreSpotTypes('m5.*', { scorer }), (e) => {
      assert.equal(e.code, 'CLOUDOPTIM_PLUGIN')
      assert.equal(e.plugin, 'thrower')
      assert.equal(e.cause, thrown)
      assert.match(e.message, /score\(\) failed for m5\.[a-z0-9]+: no data for this region/)
      return true
    })
    assert.equal(calls, 1)
    const rejecting = { name: 'rejecter', score: async () => Promise.reject(thrown) }
    await assert.rejects(scoreSpotTypes('m5.*', { scorer: rejecting }), (e) => e.cause === thrown)
  })

  it('throws a TypeError at once for something that is not a scorer', () => {
    assert.throws(() => scoreSpotTypes('m5.*', { scorer: { score: () => ({ risk: 0 }) } }), /needs a `name`/)
    assert.throws(() => scoreSpotTypes('m5.*', { scorer: { name: 'x' } }), /needs a method `score`/)
  })
})

// A repository in a format no built-in locator reads: node pools in a house YAML file.
const POOLS = `# node pools, read by our own tooling
pools:
  - cluster: prod
    pool: workers
    machine: m5.large
    minimum: 2
    floor: 1
  - cluster: prod
    pool: batch
    machine: c5.xlarge
    minimum: 0
`
const change = { target: { kind: 'NodeGroup', cluster: 'prod', name: 'workers' }, set: { min_size: 3 } }

async function poolsRepo() {
  const repo = join(await tempDir(), 'infra')
  await mkdir(join(repo, 'pools'), { recursive: true })
  await writeFile(join(repo, 'pools', 'pools.yaml'), POOLS)
  return repo
}

/** A locator that finds `key:` of the change's pool in pools/pools.yaml (the text given, never the disk). */
function poolLocator(key, name = 'house-pools') {
  return {
    name,
    calls: [],
    locate(input) {
      this.calls.push(input)
      const file = input.files.find((f) => f.path === 'pools/pools.yaml')
      if (!file) return []
      const block = new RegExp(`- cluster: ${input.change.target.cluster}\\n    pool: ${input.change.target.name}\\n(?:    .*\\n)*?    ${key}: (\\d+)`)
      const m = block.exec(file.text)
      if (!m) return null
      const start = m.index + m[0].length - m[1].length
      return [{
        kind: 'resolved',
        summary: `pool ${input.change.target.name} in pools/pools.yaml`,
        sites: [{ file: file.path, start, end: start + m[1].length, key: 'min_size', explanation: `${key} of the pool` }],
      }]
    },
  }
}

describe('IaC locator plug-in', () => {
  it('finds what no built-in locator finds, and the engine patches and verifies it', async () => {
    const repo = await poolsRepo()
    assert.equal((await locate(repo, change)).outcome, 'not_found', 'the built-in locators do not read this format')
    const locator = poolLocator('minimum')
    const located = await locate(repo, change, { locators: [locator] })
    assert.equal(located.outcome, 'patched')
    assert.equal(located.written, false)
    assert.deepEqual(located.files, ['pools/pools.yaml'])
    assert.equal(located.changes[0].explanations[0], 'minimum of the pool')
    assert.equal(await readFile(join(repo, 'pools', 'pools.yaml'), 'utf8'), POOLS)
    const input = locator.calls[0]
    assert.equal(input.root, repo)
    assert.deepEqual(input.change, change)
    assert.deepEqual(input.files.map((f) => [f.path, f.kind]), [['pools/pools.yaml', 'yaml']])

    locator.calls = []
    const patched = await patch(repo, change, { locators: [locator] })
    assert.equal(patched.written, true)
    assert.equal(patched.diff, located.diff)
    assert.equal(await readFile(join(repo, 'pools', 'pools.yaml'), 'utf8'), POOLS.replace('minimum: 2', 'minimum: 3'))
    // the engine verified the edit by locating again on the edited text
    assert.equal(locator.calls.length, 2)
    assert.match(locator.calls[1].files[0].text, /pool: workers\n {4}machine: m5.large\n {4}minimum: 3/)
  })

  it('hot-swaps: the next call uses the new plug-in', async () => {
    const repo = await poolsRepo()
    const first = await locate(repo, change, { locators: [poolLocator('minimum')] })
    assert.match(first.diff, /^\+ {4}minimum: 3$/m)
    const second = await locate(repo, change, { locators: [poolLocator('floor')] })
    assert.match(second.diff, /^\+ {4}floor: 3$/m)
    // two locators agreeing on nothing: the engine says ambiguous, as with its own
    const both = await locate(repo, change, { locators: [poolLocator('minimum'), poolLocator('floor', 'floors')] })
    assert.equal(both.outcome, 'ambiguous')
    assert.equal(both.candidates.length, 2)
    // a plain function works too
    const fn = (input) => poolLocator('floor').locate(input)
    assert.match((await locate(repo, change, { locators: [fn] })).diff, /floor: 3/)
  })

  it('rejects with CLOUDOPTIM_PLUGIN naming the plug-in and field, and writes nothing', async () => {
    const repo = await poolsRepo()
    const garbage = [
      ['a string', 'findings', undefined, /must return an array of findings/],
      [[{ kind: 'found' }], 'findings', 'findings[0].kind', /must be `resolved`, `candidate` or `blocked`/],
      [[{ kind: 'resolved', summary: 's', sites: [{ file: 'pools/pools.yaml', start: 'x', end: 3 }] }], 'start', 'findings[0].sites[0].start', /non-negative integer/],
      [[{ kind: 'resolved', summary: 's', sites: [{ file: 'nope.yaml', start: 0, end: 3 }] }], 'file', 'findings[0].sites[0].file', /"nope.yaml" is not one of the repository's files/],
      [[{ kind: 'resolved', summary: 's', sites: [{ file: 'pools/pools.yaml', start: 0, end: 4 }] }], 'span', 'findings[0].sites[0].start', /not exactly a YAML scalar or list/],
      [[{ kind: 'resolved', summary: 's', sites: [{ file: 'pools/pools.yaml', start: 1, end: 3, key: 'replicas' }] }], 'key', 'findings[0].sites[0].key', /not a key the change sets \(min_size\)/],
    ]
    for (const [answer, what, field, message] of garbage) {
      await assert.rejects(patch(repo, change, { locators: [{ name: 'bad', locate: () => answer }] }), (e) => {
        assert.equal(e.code, 'CLOUDOPTIM_PLUGIN', what)
        assert.equal(e.plugin, 'bad')
        assert.equal(e.role, 'locator')
        assert.equal(e.field, field, what)
        assert.match(e.message, /^locator plug-in "bad": /)
        assert.match(e.message, message)
        return true
      })
    }
    const thrown = new Error('cannot parse the pools')
    await assert.rejects(patch(repo, change, { locators: [{ name: 'thrower', locate: () => { throw thrown } }] }), (e) => {
      assert.equal(e.code, 'CLOUDOPTIM_PLUGIN')
      assert.equal(e.cause, thrown)
      assert.match(e.message, /locate\(\) failed: cannot parse the pools/)
      return true
    })
    assert.equal(await readFile(join(repo, 'pools', 'pools.yaml'), 'utf8'), POOLS)
    assert.throws(() => locate(repo, change, { locators: [{ name: 'x' }] }), /locators\[0\] \(x\) needs a method `locate`/)
    assert.throws(() => locate(repo, change, { locators: [{ locate() {} }] }), /locators\[0\] needs a `name`/)
  })
})
