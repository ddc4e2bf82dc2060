// The portal's only script: loads a recommendation's pull request preview and runs the dry-run
// proposal through the JSON API, without leaving the page. Everything from the server is put in
// the page as text (textContent), never as markup. Without this script the links and the form
// still work: they lead to server-rendered pages.
'use strict'

/** An element with a class and text or children. */
function el(tag, cls, content) {
  const node = document.createElement(tag)
  if (cls) node.className = cls
  if (Array.isArray(content)) node.append(...content)
  else if (content !== undefined) node.textContent = content
  return node
}

const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' })

/** The unified diff, one span per line classed by its first character. */
function diffBlock(diff) {
  if (!diff) return el('p', 'empty', 'No change to the repository.')
  const pre = el('pre', 'diff')
  // one block per line: the line breaks are the blocks' (copying the diff keeps them)
  for (const line of diff.replace(/\n$/, '').split('\n')) {
    const cls = line.startsWith('+++') || line.startsWith('---') ? 'file'
      : line.startsWith('@@') ? 'hunk'
        : line.startsWith('+') ? 'add'
          : line.startsWith('-') ? 'del' : 'ctx'
    pre.append(el('span', cls, line))
  }
  return pre
}

function fact(dl, term, cls, value) {
  if (value === undefined || value === null || value === '') return
  dl.append(el('dt', null, term), el('dd', cls, value))
}

function codes(list) {
  return list.flatMap((f, i) => (i ? [' ', el('code', null, f)] : [el('code', null, f)]))
}

function renderPreview(p) {
  const dl = el('dl')
  fact(dl, 'Status', 'status', p.status)
  if (p.branch) fact(dl, 'Branch', 'branch', [el('code', null, p.branch)])
  fact(dl, 'Pull request', 'pr-title', p.pr_title)
  fact(dl, 'Why not', 'reason', p.reason)
  if (p.files.length) fact(dl, 'Files', 'files', codes(p.files))
  return [el('h3', 'rec-title', p.title), dl, diffBlock(p.diff)]
}

function table(id, headings, rows) {
  const t = el('table', 'proposal', [
    el('thead', null, [el('tr', null, headings.map((h) => el('th', null, h)))]),
    el('tbody', null, rows),
  ])
  t.id = id
  return t
}

function renderProposal(result) {
  const prs = result.items.filter((i) => i.status === 'dry_run')
  const others = result.items.filter((i) => i.status !== 'dry_run')
  const saving = prs.reduce((s, i) => s + i.monthly_savings_usd, 0)
  const summary = el('p', 'summary', [
    'Dry run against ', el('code', null, result.repository), ` (base ${result.base}): `,
    el('strong', null, String(prs.length)), ' pull requests would be opened, saving ',
    el('strong', null, usd.format(saving)), ` a month; ${others.length} recommendations make none. Nothing was written or pushed.`,
  ])
  summary.id = 'propose-summary'
  const prTable = table('proposal-prs', ['Pull request', 'Branch', 'Savings / month', 'Files'], prs.map((i) => el('tr', 'item', [
    el('td', 'pr-title', i.title),
    el('td', 'branch', [el('code', null, i.branch)]),
    el('td', 'savings', usd.format(i.monthly_savings_usd)),
    el('td', 'files', codes(i.files ?? [])),
  ])))
  const skipped = el('details', 'skipped', [
    el('summary', null, `${others.length} recommendations make no pull request`),
    table('proposal-skipped', ['Status', 'Target', 'Why', 'Savings / month'], others.map((i) => el('tr', 'item', [
      el('td', 'status', i.status),
      el('td', 'target', i.target),
      el('td', 'reason', i.reason ?? ''),
      el('td', 'savings', usd.format(i.monthly_savings_usd)),
    ]))),
  ])
  return [summary, prTable, skipped]
}

async function api(url, init) {
  const res = await fetch(url, { headers: { accept: 'application/json', 'content-type': 'application/json' }, ...init })
  const body = await res.json().catch(() => null)
  if (!res.ok) throw new Error(body?.error ? `${body.error.message} (${body.error.code})` : `HTTP ${res.status}`)
  return body
}

function showError(target, e) {
  target.replaceChildren(el('p', 'error', e.message))
}

document.addEventListener('DOMContentLoaded', () => {
  const rows = document.getElementById('recs')
  const preview = document.getElementById('preview-body')
  if (rows && preview) {
    rows.addEventListener('click', async (event) => {
      const tr = event.target.closest('tr[data-id]')
      if (!tr) return
      event.preventDefault()
      for (const other of rows.querySelectorAll('tr.selected')) other.classList.remove('selected')
      tr.classList.add('selected')
      preview.setAttribute('aria-busy', 'true')
      preview.replaceChildren(el('p', 'loading', 'Running the IaC engine in dry-run mode…'))
      try {
        const p = await api(`/api/recommendations/${encodeURIComponent(tr.dataset.id)}/preview`)
        preview.replaceChildren(...renderPreview(p))
      } catch (e) {
        showError(preview, e)
      } finally {
        preview.removeAttribute('aria-busy')
      }
    })
  }

  const form = document.getElementById('propose-form')
  const result = document.getElementById('propose-result')
  if (form && result) {
    form.addEventListener('submit', async (event) => {
      event.preventDefault()
      const button = form.querySelector('button')
      button.disabled = true
      result.setAttribute('aria-busy', 'true')
      result.replaceChildren(el('p', 'loading', 'Running the dry-run proposal…'))
      try {
        const group = new FormData(form).get('group')
        result.replaceChildren(...renderProposal(await api('/api/propose', { method: 'POST', body: JSON.stringify({ group }) })))
      } catch (e) {
        showError(result, e)
      } finally {
        button.disabled = false
        result.removeAttribute('aria-busy')
      }
    })
  }
})
