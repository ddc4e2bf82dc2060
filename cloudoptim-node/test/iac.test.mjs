// The IaC engine through the binding: every case of the shared corpus, patched in a copy, plus
// dry runs, bad changes and bad repositories.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readdirSync, existsSync } from 'node:fs'
import { chmod, cp, lstat, readFile, readdir, readlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { inspect } from 'node:util'

import { Change, locate, patch } from 'cloudoptim'

import { cliBinary, packageDir, sharedData, tempDir } from './helpers.mjs'

/** The corpus: `iac-corpus/cases` beside the shared data folder. */
const corpus = join(sharedData(), '..', 'iac-corpus', 'cases')
const cases = existsSync(corpus)
  ? readdirSync(corpus).filter((n) => existsSync(join(corpus, n, 'case.json'))).sort()
  : []

const REPORT_KEYS = ['candidates', 'changes', 'diff', 'explanation', 'files', 'outcome', 'warnings', 'written']
const nodeGroup = { kind: 'NodeGroup', cluster: 'prod-eks', name: 'main-app' }

/** Copies a case's read-only repository to a fresh temporary folder and makes the copy writable. */
async function copyRepo(src) {
  const dst = join(await tempDir(), 'repo')
  await cp(src, dst, { recursive: true, verbatimSymlinks: true })
  const entries = await readdir(dst, { recursive: true, withFileTypes: true })
  for (const e of entries) {
    if (e.isSymbolicLink()) continue
    const p = join(e.parentPath ?? e.path, e.name)
    await chmod(p, (await lstat(p)).mode | 0o200)
  }
  await chmod(dst, (await lstat(dst)).mode | 0o200)
  return dst
}

/** Every file under `root` (hidden ones too): relative path with `/` → contents. */
async function snapshot(root) {
  const out = {}
  const entries = await readdir(root, { recursive: true, withFileTypes: true })
  for (const e of entries) {
    const p = join(e.parentPath ?? e.path, e.name)
    const rel = p.slice(root.length + 1).split('\\').join('/')
    if (e.isSymbolicLink()) out[rel] = Buffer.from(await readlink(p))
    else if (e.isFile()) out[rel] = await readFile(p)
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)))
}

/** Whether `needles` appear in `haystack` in order. */
function isSubsequence(needles, haystack) {
  let i = 0
  for (const h of haystack) if (i < needles.length && needles[i] === h) i++
  return i === needles.length
}

const lines = (buf) => buf.toString('utf8').split(/\r?\n/)

async function readCase(name) {
  const dir = join(corpus, name)
  const text = await readFile(join(dir, 'case.json'), 'utf8')
  return { dir, text, kase: JSON.parse(text) }
}

describe('the IaC corpus through patch()', () => {
  it('is there and covers every outcome', async () => {
    assert.ok(existsSync(corpus), `IaC corpus not found at ${corpus} (set CLOUDOPTIM_SHARED_DATA)`)
    assert.ok(cases.length >= 10, inspect(cases))
    const outcomes = new Set()
    for (const name of cases) outcomes.add((await readCase(name)).kase.expect.outcome)
    assert.deepEqual([...outcomes].sort(), ['ambiguous', 'not_found', 'patched'])
  })

  for (const name of cases) {
    it(name, async () => {
      const { dir, text, kase } = await readCase(name)
      const expect = kase.expect
      const repo = await copyRepo(join(dir, 'repo'))
      const before = await snapshot(repo)
      assert.deepStrictEqual(before, await snapshot(join(dir, 'repo')))

      // locate first, with the case as an object and as a Change: same answer, nothing written
      const located = await locate(repo, kase)
      assert.deepStrictEqual(await locate(repo, new Change(kase.change)), located)
      assert.equal(located.written, false)
      assert.deepStrictEqual(await snapshot(repo), before, 'locate() changed files')

      const report = await patch(repo, text)
      assert.equal(Object.getPrototypeOf(report), Object.prototype)
      assert.equal(report.outcome, expect.outcome, report.explanation)
      assert.deepEqual(Object.keys(report).sort(), REPORT_KEYS)
      assert.ok(report.explanation)
      assert.deepStrictEqual(report, { ...located, written: report.outcome === 'patched' }, 'patch() and locate() disagree')
      const after = await snapshot(repo)

      if (expect.outcome === 'patched') {
        const expected = await snapshot(join(dir, 'expected'))
        const changed = Object.keys(expected)
        assert.ok(changed.length > 0, 'a patched case has expected files')
        assert.equal(report.written, true)
        assert.deepEqual([...report.files].sort(), changed)
        assert.deepEqual(report.changes.map((c) => c.file), report.files)
        for (const rel of changed) assert.ok(report.diff.includes(`--- a/${rel}\n+++ b/${rel}\n`), report.diff)
        assert.deepEqual(Object.keys(after), Object.keys(before), 'files were added or removed')
        for (const [rel, old] of Object.entries(before)) {
          if (!(rel in expected)) assert.ok(after[rel].equals(old), `${rel} changed but is not expected to`)
        }
        for (const [rel, want] of Object.entries(expected)) {
          if ((expect.compare ?? 'exact') === 'exact') {
            assert.ok(after[rel].equals(want), `${rel} differs from expected/${rel}:\n${after[rel]}`)
          } else {
            assert.equal(expect.compare, 'yaml-semantic')
            const orig = lines(before[rel])
            const now = lines(after[rel])
            const added = lines(want).filter((l) => !orig.includes(l))
            assert.ok(added.length > 0, `expected/${rel} adds nothing`)
            assert.ok(isSubsequence(orig, now), `${rel} lost or reordered original lines`)
            assert.ok(isSubsequence(added, now), `${rel} lacks the expected added lines ${inspect(added)}`)
            assert.ok(!after[rel].equals(before[rel]))
          }
        }
      } else {
        assert.deepStrictEqual(after, before, `outcome ${report.outcome} but files changed`)
        assert.deepStrictEqual([report.files, report.changes, report.diff, report.written], [[], [], '', false])
        if (expect.outcome === 'ambiguous') {
          const found = new Set(report.candidates.map((c) => c.file))
          assert.ok(report.candidates.length >= 2)
          for (const f of expect.candidates ?? []) assert.ok(found.has(f), `candidate ${f} not reported: ${[...found]}`)
        }
      }
    })
  }
})

describe('patch() and locate()', () => {
  it('dryRun leaves the files alone but returns the diff', async () => {
    const { dir, kase } = await readCase('tf-raw-nodegroup')
    const repo = await copyRepo(join(dir, 'repo'))
    const before = await snapshot(repo)
    const dry = await patch(repo, kase.change, { dryRun: true })
    assert.equal(dry.outcome, 'patched')
    assert.equal(dry.written, false)
    assert.deepEqual(dry.files, ['nodegroups.tf'])
    assert.ok(dry.diff.startsWith('--- a/nodegroups.tf\n+++ b/nodegroups.tf\n'), dry.diff)
    assert.ok(dry.diff.split('\n').some((l) => l.startsWith('+') && l.includes('t4g.large')), dry.diff)
    assert.deepStrictEqual(await snapshot(repo), before)
    const real = await patch(repo, kase.change, { dryRun: false })
    assert.equal(real.written, true)
    assert.equal(real.diff, dry.diff)
    const want = await readFile(join(dir, 'expected', 'nodegroups.tf'))
    assert.ok((await readFile(join(repo, 'nodegroups.tf'))).equals(want))
  })

  it('rejects a bad change with CLOUDOPTIM_INVALID_CHANGE before touching anything', async () => {
    const { dir } = await readCase('tf-raw-nodegroup')
    const repo = await copyRepo(join(dir, 'repo'))
    const before = await snapshot(repo)
    const bad = { target: nodeGroup, set: { instance_typez: ['m5.large'] } }
    for (const change of [bad, JSON.stringify(bad), { description: 'x', change: bad }]) {
      for (const call of [() => patch(repo, change), () => locate(repo, change), () => patch(repo, change, { dryRun: true })]) {
        const p = call()
        assert.ok(p instanceof Promise)
        await assert.rejects(p, (e) => {
          assert.ok(e instanceof Error)
          assert.equal(e.code, 'CLOUDOPTIM_INVALID_CHANGE')
          assert.match(e.message, /unknown key `set\.instance_typez`/)
          return true
        })
      }
    }
    // checked before the repository is looked at
    await assert.rejects(patch(join(repo, 'missing'), bad), { code: 'CLOUDOPTIM_INVALID_CHANGE' })
    await assert.rejects(patch(repo, '{not json'), { code: 'CLOUDOPTIM_INVALID_CHANGE', message: /not JSON/ })
    assert.deepStrictEqual(await snapshot(repo), before)
  })

  it('rejects a repository that is a file with CLOUDOPTIM_NOT_A_DIRECTORY, a missing one with CLOUDOPTIM_IO', async () => {
    const file = join(await tempDir(), 'main.tf')
    await writeFile(file, '# not a folder\n')
    const change = { target: nodeGroup, set: { min_size: 1 } }
    for (const call of [locate, patch]) {
      await assert.rejects(call(file, change), (e) => {
        assert.equal(e.code, 'CLOUDOPTIM_NOT_A_DIRECTORY')
        assert.ok(e.message.includes(file), e.message)
        return true
      })
    }
    assert.equal(await readFile(file, 'utf8'), '# not a folder\n')
    await assert.rejects(locate(join(file, '..', 'missing'), change), { code: 'CLOUDOPTIM_IO' })
  })

  it('throws for arguments of the wrong type, not a crash', () => {
    assert.throws(() => patch('.', 42))
    assert.throws(() => locate(42, { target: nodeGroup, set: { min_size: 1 } }))
    assert.throws(() => patch('.', { target: nodeGroup, set: { min_size: 1 } }, { dryRun: 'yes' }))
  })

  it('returns a promise and does not block the event loop', async () => {
    const { dir, kase } = await readCase('tf-multi-env-dirs')
    const repo = await copyRepo(join(dir, 'repo'))
    await readFile(join(dir, 'case.json')) // resume in the poll phase, as load.test.mjs explains
    let immediateRan = false
    setImmediate(() => {
      immediateRan = true
    })
    const p = patch(repo, kase, { dryRun: true })
    assert.ok(p instanceof Promise)
    assert.match(inspect(p), /<pending>/, 'not settled synchronously')
    assert.equal((await p).outcome, 'patched')
    assert.ok(immediateRan, 'a setImmediate callback ran while patching')
  })

  it('gives the JSON the CLI prints', async () => {
    for (const name of ['helm-env-override', 'ambiguous-two-clusters', 'not-found-templated']) {
      const { dir, kase } = await readCase(name)
      const repo = await copyRepo(join(dir, 'repo'))
      const r = spawnSync(cliBinary(), ['locate', '--repo', repo, '--change', join(dir, 'case.json'), '--format', 'json'], {
        encoding: 'utf8',
      })
      assert.ok([0, 3, 4].includes(r.status), r.stderr)
      assert.deepStrictEqual(await locate(repo, kase), JSON.parse(r.stdout), name)
    }
  })
})

describe('Change', () => {
  it('is validated when made and gives its data back', () => {
    const target = { kind: 'Deployment', cluster: 'prod-eks', namespace: 'shop', name: 'checkout', container: 'app' }
    const set = { 'requests.memory': '1Gi', 'requests.cpu': '500m', replicas: 3 }
    const c = new Change({ target, set })
    assert.ok(c instanceof Change)
    assert.deepStrictEqual(c.target, target)
    assert.deepStrictEqual(c.set, set)
    assert.deepStrictEqual(c.toJSON(), { target, set })
    assert.deepStrictEqual(JSON.parse(JSON.stringify(c)), { target, set })
    assert.deepStrictEqual(Change.fromJson(JSON.stringify(c)).toJSON(), c.toJSON())
    assert.deepStrictEqual(Change.fromJson(JSON.stringify({ description: 'a case', change: c })).toJSON(), c.toJSON())
  })

  for (const [what, change, message] of [
    ['an unknown key', { target: nodeGroup, set: { instance_typez: ['m5.large'] } }, /unknown key `set\.instance_typez`/],
    ['a value of the wrong type', { target: nodeGroup, set: { instance_types: 'm5.large' } }, /list of instance type names/],
    ['an unknown instance type', { target: nodeGroup, set: { instance_types: ['m5.huge'] } }, /unknown instance type "m5\.huge"/],
    ['a wrong capacity type', { target: nodeGroup, set: { capacity_type: 'spot' } }, /SPOT/],
    ['a negative size', { target: nodeGroup, set: { min_size: -1 } }, /non-negative/],
    ['an unknown target field', { target: { ...nodeGroup, extra: 1 }, set: { min_size: 1 } }, /extra/],
    ['an unknown kind', { target: { ...nodeGroup, kind: 'Pod' }, set: { min_size: 1 } }, /target\.kind/],
    ['a setting for another kind', { target: { ...nodeGroup, kind: 'Deployment' }, set: { min_size: 1 } }, /does not apply/],
    ['a number for a quantity', { target: { ...nodeGroup, kind: 'Deployment' }, set: { 'requests.cpu': 500 } }, /quantity string/],
    ['no settings', { target: nodeGroup, set: {} }, /empty/],
    ['no target', { set: { min_size: 1 } }, /target/],
  ]) {
    it(`throws CLOUDOPTIM_INVALID_CHANGE for ${what}`, () => {
      assert.throws(() => new Change(change), (e) => {
        assert.ok(e instanceof Error)
        assert.equal(e.code, 'CLOUDOPTIM_INVALID_CHANGE')
        assert.match(e.message, message)
        return true
      })
    })
  }

  it('fromJson() throws CLOUDOPTIM_INVALID_CHANGE for text that is not a change', () => {
    assert.throws(() => Change.fromJson('{not json'), { code: 'CLOUDOPTIM_INVALID_CHANGE', message: /not JSON/ })
    assert.throws(() => Change.fromJson('[]'), { code: 'CLOUDOPTIM_INVALID_CHANGE' })
  })
})

describe('the IaC interfaces of index.d.ts match real objects', () => {
  const ts = createRequire(import.meta.url)('typescript')
  const fields = (() => {
    const file = join(packageDir, 'index.d.ts')
    const sf = ts.createSourceFile(file, ts.sys.readFile(file), ts.ScriptTarget.Latest, true)
    const out = new Map()
    for (const st of sf.statements) {
      if (ts.isInterfaceDeclaration(st)) {
        const names = st.members.filter(ts.isPropertySignature).map((m) => m.name.text ?? m.name.getText(sf))
        out.set(st.name.text, names.sort())
      }
    }
    return (name) => {
      assert.ok(out.has(name), `index.d.ts has no interface ${name}`)
      return out.get(name)
    }
  })()

  it('PatchReport, PatchFileChange', async () => {
    const { dir, kase } = await readCase('helm-env-override')
    const report = await locate(await copyRepo(join(dir, 'repo')), kase)
    assert.deepEqual(Object.keys(report).sort(), fields('PatchReport'))
    assert.deepEqual(fields('PatchReport'), REPORT_KEYS)
    assert.ok(report.changes.length > 0)
    for (const c of report.changes) {
      assert.deepEqual(Object.keys(c).sort(), fields('PatchFileChange'))
      assert.ok(c.lines.every((r) => Array.isArray(r) && r.length === 2 && r[0] <= r[1]))
    }
  })

  it('PatchCandidate', async () => {
    const { dir, kase } = await readCase('ambiguous-two-clusters')
    const report = await locate(await copyRepo(join(dir, 'repo')), kase)
    assert.ok(report.candidates.length > 0)
    for (const c of report.candidates) {
      assert.deepEqual(Object.keys(c).sort(), fields('PatchCandidate'))
      assert.ok(Number.isInteger(c.line) && c.line >= 1)
    }
  })

  it('ChangeJson, ChangeTarget, ChangeSet', () => {
    const group = new Change({
      target: nodeGroup,
      set: { instance_types: ['m5.large'], capacity_type: 'SPOT', min_size: 1, max_size: 3, desired_size: 2 },
    })
    const workload = new Change({
      target: { kind: 'Deployment', cluster: 'c', namespace: 'ns', name: 'w', container: 'app' },
      set: { 'requests.cpu': '1', 'requests.memory': '1Gi', 'limits.cpu': '2', 'limits.memory': '2Gi', replicas: 2 },
    })
    assert.deepEqual(Object.keys(group.toJSON()).sort(), fields('ChangeJson'))
    assert.deepEqual(Object.keys(workload.target).sort(), fields('ChangeTarget'))
    assert.deepEqual([...Object.keys(group.set), ...Object.keys(workload.set)].sort(), fields('ChangeSet'))
  })
})
