// End to end in a real browser: Debian's Chromium, driven by playwright-core, opens the portal
// and checks what a person sees — the recommendations with the savings analyze() reports, a
// pull request's diff after clicking one, the dry-run proposal after pressing the button — and
// saves screenshots in test-artifacts/.
import assert from 'node:assert/strict'
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import { analyze, demoCluster, propose } from 'cloudoptim'
import { chromium } from 'playwright-core'

import { artifactsDir, chromiumPath, gitopsRepo, snapshot, startPortal, usd } from './helpers.mjs'

describe('the portal in Chromium', () => {
  let browser
  let server
  let page
  let expected
  let dry
  let repoBefore
  const pageErrors = []

  before(async () => {
    // fails (does not skip) when Chromium is missing
    const executablePath = chromiumPath()
    repoBefore = await snapshot(gitopsRepo)
    expected = (await analyze(demoCluster())).toJSON()
    const dir = await mkdtemp(join(tmpdir(), 'portal-test-'))
    try {
      await cp(gitopsRepo, join(dir, 'repo'), { recursive: true })
      dry = await propose(demoCluster(), join(dir, 'repo'), { dryRun: true })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
    await mkdir(artifactsDir, { recursive: true })
    server = await startPortal()
    browser = await chromium.launch({ executablePath })
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    page.on('pageerror', (e) => pageErrors.push(e.message))
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()) })
  })

  after(async () => {
    await browser?.close()
    await server?.close()
    if (repoBefore) assert.deepStrictEqual(await snapshot(gitopsRepo), repoBefore, 'the example repository was changed')
  })

  it('shows the totals and every recommendation with the savings analyze() reports', async () => {
    await page.goto(server.url + '/')
    assert.equal(await page.locator('#cluster-name').innerText(), expected.cluster.name)
    assert.equal(await page.locator('#total-savings').innerText(), usd(expected.totals.monthly_savings_usd))
    assert.equal(await page.locator('#total-cost').innerText(), usd(expected.costs.monthly_usd))
    assert.equal(await page.locator('#total-count').innerText(), String(expected.recommendations.length))

    const rows = await page.locator('#recs tr').evaluateAll((trs) => trs.map((tr) => ({
      id: tr.dataset.id,
      savings: tr.querySelector('.savings').innerText,
      risk: tr.querySelector('.risk').innerText.toLowerCase(),
      title: tr.querySelector('.rec-link').innerText,
      visible: tr.getBoundingClientRect().height > 0,
    })))
    assert.equal(rows.length, expected.recommendations.length)
    assert.ok(rows.length > 10)
    rows.forEach((row, i) => {
      const rec = expected.recommendations[i]
      assert.deepEqual(row, { id: rec.id, savings: usd(rec.monthly_savings_usd), risk: rec.risk.level, title: rec.title, visible: true })
    })
    await page.screenshot({ path: join(artifactsDir, 'portal-list.png') })
  })

  it('sorts by risk when the column header is clicked', async () => {
    await page.getByRole('link', { name: 'Risk' }).click()
    await page.waitForURL(/sort=risk/)
    const rank = { low: 0, medium: 1, high: 2 }
    const risks = await page.locator('#recs .risk').allInnerTexts()
    const ranks = risks.map((r) => rank[r.toLowerCase()])
    assert.equal(ranks.length, expected.recommendations.length)
    assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b))
    assert.ok(new Set(ranks).size > 1)
    await page.getByRole('link', { name: /Savings/ }).click()
    await page.waitForURL(/sort=savings/)
  })

  it('shows the diff of a pull request after clicking a recommendation', async () => {
    await page.goto(server.url + '/')
    const item = dry.items.find((i) => i.status === 'dry_run' && i.recommendation_ids.length === 1)
    const [id] = item.recommendation_ids
    const rec = expected.recommendations.find((r) => r.id === id)
    await page.locator(`#recs tr[data-id="${id}"] .rec-link`).click()
    const diff = page.locator('#preview-body pre.diff')
    await diff.waitFor()
    assert.equal(page.url(), server.url + '/', 'the script showed the preview in place')
    assert.equal(await page.locator('#preview-body .rec-title').innerText(), rec.title)
    assert.equal(await page.locator('#preview-body .branch').innerText(), item.branch)
    assert.equal(await page.locator('#preview-body .pr-title').innerText(), item.title)

    const lines = await diff.locator('span').allInnerTexts()
    assert.deepEqual(lines, item.diff.replace(/\n$/, '').split('\n'))
    const added = await diff.locator('span.add').allInnerTexts()
    const removed = await diff.locator('span.del').allInnerTexts()
    assert.ok(added.length > 0 && added.every((l) => l.startsWith('+')), added.join('\n'))
    assert.ok(removed.length > 0 && removed.every((l) => l.startsWith('-')), removed.join('\n'))
    // added and removed lines look different to the eye
    const colour = (loc) => loc.first().evaluate((e) => getComputedStyle(e).backgroundColor)
    assert.notEqual(await colour(diff.locator('span.add')), await colour(diff.locator('span.del')))
    await page.screenshot({ path: join(artifactsDir, 'portal-diff.png') })

    // a finding that is no repository change says why instead
    const skipped = dry.items.find((i) => i.status === 'not_applicable')
    await page.locator(`#recs tr[data-id="${skipped.recommendation_ids[0]}"] td.savings`).click()
    await page.locator('#preview-body .reason').waitFor()
    assert.equal(await page.locator('#preview-body .reason').innerText(), skipped.reason)
    assert.equal(await page.locator('#preview-body pre.diff').count(), 0)
  })

  it('shows the dry-run proposal after the button is pressed', async () => {
    await page.getByRole('button', { name: 'Dry-run proposal' }).click()
    await page.locator('#propose-result #proposal-prs').waitFor()
    const prs = dry.items.filter((i) => i.status === 'dry_run')
    const others = dry.items.filter((i) => i.status !== 'dry_run')
    assert.ok(prs.length > 1 && others.length > 0)
    const cells = (table) => page.locator(`#propose-result ${table} tbody tr`)
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.innerText)))
    assert.deepEqual(await cells('#proposal-prs'), prs.map((i) => [i.title, i.branch, usd(i.monthly_savings_usd), i.files.join(' ')]))
    // the rest is folded away until opened
    assert.equal(await page.locator('#proposal-skipped').isVisible(), false)
    await page.locator('#propose').screenshot({ path: join(artifactsDir, 'portal-proposal.png') })
    await page.locator('#propose-result details.skipped summary').click()
    assert.equal(await page.locator('#proposal-skipped').isVisible(), true)
    assert.deepEqual(await cells('#proposal-skipped'), others.map((i) => [i.status, i.target, i.reason, usd(i.monthly_savings_usd)]))
    const summary = await page.locator('#propose-summary').innerText()
    assert.ok(summary.includes(`${prs.length} pull requests would be opened`), summary)
    assert.ok(summary.includes(usd(prs.reduce((s, i) => s + i.monthly_savings_usd, 0))), summary)
    assert.ok(summary.includes(gitopsRepo), summary)
  })

  it('ran without script errors', () => {
    assert.deepEqual(pageErrors, [])
  })
})

describe('escaping in Chromium', () => {
  it('shows a hostile title as text and runs none of it', async () => {
    const executablePath = chromiumPath()
    const title = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    const server = await startPortal({
      extraAnalyzers: [{
        name: 'hostile',
        analyze: () => [{ kind: 'custom', title, target: { namespace: 'shop' }, monthly_savings_usd: 9999 }],
      }],
    })
    const browser = await chromium.launch({ executablePath })
    try {
      const page = await browser.newPage()
      await page.goto(server.url + '/')
      const first = page.locator('#recs tr').first()
      assert.equal(await first.locator('.rec-link').innerText(), title)
      assert.equal(await page.locator('#recs img, #recs script').count(), 0)
      // its preview (no pull request: the portal's own analyzer) puts the title in as text too
      await first.locator('td.kind').click()
      await page.locator('#preview-body .status').waitFor()
      assert.equal(await page.locator('#preview-body .status').innerText(), 'not_proposed')
      assert.equal(await page.locator('#preview-body .rec-title').innerText(), title)
      assert.equal(await page.locator('#preview-body img, #preview-body script').count(), 0)
      assert.equal(await page.evaluate(() => window.pwned), undefined)
    } finally {
      await browser.close()
      await server.close()
    }
  })
})
