// Server-rendered pages. Every value from the cluster, the report or the repository goes through
// `esc` (text) or `attr` (attribute values): names, titles and diffs are data, never markup.
import { SORTS, targetLabel } from './portal.mjs'

const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Escapes text for HTML element content and quoted attribute values. */
export function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c])
}

const usdFormat = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' })

/** `$1,234.56`, `-$12.00`. */
export const usd = (n) => usdFormat.format(n)

/** `12.3 %`. */
const pct = (ratio) => `${(ratio * 100).toFixed(1)} %`

function layout(title, body) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<link rel="stylesheet" href="/static/portal.css">
<script src="/static/portal.js" defer></script>
</head>
<body>
${body}
</body>
</html>
`
}

function header(portal) {
  const c = portal.report.cluster
  const source = portal.source === 'demo' ? 'embedded demo cluster' : portal.source
  return `<header>
<h1><a href="/">cloudoptim portal</a></h1>
<p class="cluster">Cluster <strong id="cluster-name">${esc(c.name)}</strong>${c.region ? ` in ${esc(c.region)}` : ''}
 · ${c.nodes} nodes · ${c.pods} pods · ${c.workloads} workloads · source: <code>${esc(source)}</code></p>
</header>`
}

function totals(report) {
  const t = report.totals
  const kinds = t.by_kind
    .map((k) => `<li>${esc(k.kind)}: ${k.count} · <span class="usd">${esc(usd(k.monthly_savings_usd))}</span></li>`)
    .join('')
  return `<section id="totals" aria-label="Totals">
<div class="card"><span class="label">Monthly cost</span><span class="value" id="total-cost">${esc(usd(report.costs.monthly_usd))}</span></div>
<div class="card"><span class="label">Savings / month</span><span class="value" id="total-savings">${esc(usd(t.monthly_savings_usd))}</span>
<span class="hint">overlaps combined; ${esc(usd(t.gross_monthly_savings_usd))} summed</span></div>
<div class="card"><span class="label">Share of cost</span><span class="value" id="total-ratio">${esc(pct(t.savings_ratio))}</span></div>
<div class="card"><span class="label">Recommendations</span><span class="value" id="total-count">${t.recommendations}</span></div>
<ul class="kinds">${kinds}</ul>
</section>`
}

function sortLink(label, column, current) {
  const active = current.sort === column
  const dir = active ? (current.dir === 'asc' ? 'desc' : 'asc') : SORTS[column].dir
  const arrow = active ? (current.dir === 'asc' ? ' ▲' : ' ▼') : ''
  return `<a href="/?sort=${column}&amp;dir=${dir}"${active ? ' aria-current="true"' : ''}>${esc(label)}${arrow}</a>`
}

function row(rec) {
  const reasons = rec.risk.reasons.join('; ')
  return `<tr data-id="${esc(rec.id)}">
<td class="savings">${esc(usd(rec.monthly_savings_usd))}</td>
<td class="risk risk-${esc(rec.risk.level)}" title="${esc(reasons)}">${esc(rec.risk.level)}</td>
<td class="kind">${esc(rec.kind)}</td>
<td class="title"><a class="rec-link" href="/recommendations/${encodeURIComponent(rec.id)}">${esc(rec.title)}</a>
<div class="target">${esc(targetLabel(rec))}</div></td>
<td class="confidence">${Math.round(rec.confidence * 100)} %</td>
</tr>`
}

/** The unified diff as `<pre>` with one span per line, classed by its first character. */
export function diffBlock(diff) {
  if (!diff) return '<p class="empty">No change to the repository.</p>'
  const lines = diff.replace(/\n$/, '').split('\n').map((line) => {
    const cls = line.startsWith('+++') || line.startsWith('---') ? 'file'
      : line.startsWith('@@') ? 'hunk'
        : line.startsWith('+') ? 'add'
          : line.startsWith('-') ? 'del' : 'ctx'
    return `<span class="${cls}">${esc(line)}</span>`
  })
  return `<pre class="diff">${lines.join('')}</pre>`
}

/** The preview of one recommendation's pull request (also rendered by public/portal.js). */
export function previewBlock(p) {
  const facts = [
    `<dt>Status</dt><dd class="status">${esc(p.status)}</dd>`,
    p.branch ? `<dt>Branch</dt><dd class="branch"><code>${esc(p.branch)}</code></dd>` : '',
    p.pr_title ? `<dt>Pull request</dt><dd class="pr-title">${esc(p.pr_title)}</dd>` : '',
    p.reason ? `<dt>Why not</dt><dd class="reason">${esc(p.reason)}</dd>` : '',
    p.files.length ? `<dt>Files</dt><dd class="files">${p.files.map((f) => `<code>${esc(f)}</code>`).join(' ')}</dd>` : '',
  ].join('')
  return `<h3 class="rec-title">${esc(p.title)}</h3><dl>${facts}</dl>${diffBlock(p.diff)}`
}

/**
 * The result of a dry-run proposal: the pull requests that would be opened, then (folded) the
 * recommendations that make none, with the reason (also rendered by public/portal.js).
 */
export function proposalBlock(result) {
  const prs = result.items.filter((i) => i.status === 'dry_run')
  const others = result.items.filter((i) => i.status !== 'dry_run')
  const saving = prs.reduce((s, i) => s + i.monthly_savings_usd, 0)
  const prRows = prs.map((i) => `<tr class="item">
<td class="pr-title">${esc(i.title)}</td>
<td class="branch"><code>${esc(i.branch)}</code></td>
<td class="savings">${esc(usd(i.monthly_savings_usd))}</td>
<td class="files">${(i.files ?? []).map((f) => `<code>${esc(f)}</code>`).join(' ')}</td>
</tr>`).join('')
  const otherRows = others.map((i) => `<tr class="item">
<td class="status">${esc(i.status)}</td>
<td class="target">${esc(i.target)}</td>
<td class="reason">${esc(i.reason ?? '')}</td>
<td class="savings">${esc(usd(i.monthly_savings_usd))}</td>
</tr>`).join('')
  return `<p class="summary" id="propose-summary">Dry run against <code>${esc(result.repository)}</code> (base ${esc(result.base)}):
<strong>${prs.length}</strong> pull requests would be opened, saving <strong>${esc(usd(saving))}</strong> a month;
${others.length} recommendations make none. Nothing was written or pushed.</p>
<table class="proposal" id="proposal-prs"><thead><tr><th>Pull request</th><th>Branch</th><th>Savings / month</th><th>Files</th></tr></thead>
<tbody>${prRows}</tbody></table>
<details class="skipped"><summary>${others.length} recommendations make no pull request</summary>
<table class="proposal" id="proposal-skipped"><thead><tr><th>Status</th><th>Target</th><th>Why</th><th>Savings / month</th></tr></thead>
<tbody>${otherRows}</tbody></table></details>`
}

function proposeForm() {
  return `<section id="propose" aria-label="Dry-run proposal">
<h2>Pull requests</h2>
<form method="post" action="/propose" id="propose-form">
<label>Group <select name="group"><option value="none">one per recommendation</option><option value="namespace">one per namespace</option></select></label>
<button type="submit" id="propose-button">Dry-run proposal</button>
</form>
<div id="propose-result" aria-live="polite"></div>
</section>`
}

/** The main page: totals, the sorted list, the preview panel and the proposal button. */
export function indexPage(portal, recs, current) {
  const notes = [...portal.warnings, ...portal.report.notes].map((n) => `<li>${esc(n)}</li>`).join('')
  return layout(`cloudoptim portal · ${portal.report.cluster.name}`, `${header(portal)}
<main>
${totals(portal.report)}
${notes ? `<details class="notes"><summary>Notes</summary><ul>${notes}</ul></details>` : ''}
<div class="columns">
<section id="recommendations" aria-label="Recommendations">
<h2>Recommendations</h2>
<table class="recs">
<thead><tr>
<th>${sortLink('Savings / month', 'savings', current)}</th>
<th>${sortLink('Risk', 'risk', current)}</th>
<th>${sortLink('Kind', 'kind', current)}</th>
<th>${sortLink('Recommendation', 'target', current)}</th>
<th>${sortLink('Confidence', 'confidence', current)}</th>
</tr></thead>
<tbody id="recs">
${recs.map(row).join('\n')}
</tbody>
</table>
</section>
<aside id="preview" aria-label="Pull request preview" aria-live="polite">
<h2>Pull request preview</h2>
<div id="preview-body"><p class="empty">Pick a recommendation to see the change a pull request would make.</p></div>
</aside>
</div>
${proposeForm()}
</main>`)
}

/** One recommendation with its explanation and pull request preview (the page without script). */
export function recommendationPage(portal, rec, preview) {
  const changes = rec.changes
    .map((c) => `<tr><td>${esc(c.field)}</td><td>${esc(c.current)}</td><td>${esc(c.proposed)}</td></tr>`)
    .join('')
  return layout(rec.title, `${header(portal)}
<main>
<p><a href="/">← all recommendations</a></p>
<h2>${esc(rec.title)}</h2>
<p><span class="savings">${esc(usd(rec.monthly_savings_usd))}</span> a month · risk <span class="risk risk-${esc(rec.risk.level)}">${esc(rec.risk.level)}</span>
${rec.risk.reasons.length ? `(${esc(rec.risk.reasons.join('; '))})` : ''}</p>
<p>${esc(rec.explanation)}</p>
${changes ? `<table><thead><tr><th>Field</th><th>Current</th><th>Proposed</th></tr></thead><tbody>${changes}</tbody></table>` : ''}
<section id="preview">${previewBlock(preview)}</section>
</main>`)
}

/** The result of the form without script. */
export function proposalPage(portal, result) {
  return layout('Dry-run proposal', `${header(portal)}
<main>
<p><a href="/">← all recommendations</a></p>
<section id="propose"><h2>Dry-run proposal</h2><div id="propose-result">${proposalBlock(result)}</div></section>
</main>`)
}

/** An error page; the message is escaped like everything else. */
export function errorPage(status, message) {
  return layout(`Error ${status}`, `<header><h1><a href="/">cloudoptim portal</a></h1></header>
<main><h2>Error ${status}</h2><p class="error">${esc(message)}</p></main>`)
}
