// The HTTP side: an Express application with the HTML pages and the JSON API they use.
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import express from 'express'

import { errorPage, indexPage, proposalPage, recommendationPage } from './html.mjs'
import { PortalError, SORTS, sortRecommendations } from './portal.mjs'

const publicDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'public')

/** The sort column and direction of a request, checked (the default: savings, largest first). */
function sortOf(query) {
  const sort = typeof query.sort === 'string' ? query.sort : 'savings'
  const dir = typeof query.dir === 'string' ? query.dir : Object.hasOwn(SORTS, sort) ? SORTS[sort].dir : undefined
  return { sort, dir }
}

/**
 * The Express application serving one portal (see `createPortal`).
 * @param {Awaited<ReturnType<typeof import('./portal.mjs').createPortal>>} portal
 */
export function createApp(portal) {
  const app = express()
  app.disable('x-powered-by')
  app.use((req, res, next) => {
    // scripts and styles come from this server only; nothing is framed
    res.set({
      'content-security-policy': "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    })
    next()
  })
  app.use('/static', express.static(publicDir, { index: false }))
  app.use(express.json({ limit: '16kb' }))
  app.use(express.urlencoded({ extended: false, limit: '16kb' }))

  // ---- JSON API ---------------------------------------------------------------------------
  // browsers ask for it; the portal has none
  app.get('/favicon.ico', (req, res) => res.status(204).end())
  app.get('/healthz', (req, res) => res.json({ ok: true }))

  app.get('/api/summary', (req, res) => {
    const { cluster, costs, totals, notes, analyzers } = portal.report
    res.json({ source: portal.source, repository: portal.repo, cluster, costs, totals, analyzers, notes, warnings: portal.warnings })
  })

  app.get('/api/recommendations', (req, res) => {
    const { sort, dir } = sortOf(req.query)
    res.json({
      totals: portal.report.totals,
      sort,
      dir,
      recommendations: sortRecommendations(portal.report.recommendations, sort, dir),
    })
  })

  app.get('/api/recommendations/:id', (req, res) => res.json(portal.recommendation(req.params.id)))

  app.get('/api/recommendations/:id/preview', async (req, res) => res.json(await portal.preview(req.params.id)))

  app.post('/api/propose', async (req, res) => res.json(await portal.propose(req.body?.group ?? 'none')))

  // ---- pages --------------------------------------------------------------------------------
  app.get('/', (req, res) => {
    const current = sortOf(req.query)
    const recs = sortRecommendations(portal.report.recommendations, current.sort, current.dir)
    res.type('html').send(indexPage(portal, recs, current))
  })

  app.get('/recommendations/:id', async (req, res) => {
    const rec = portal.recommendation(req.params.id)
    res.type('html').send(recommendationPage(portal, rec, await portal.preview(rec.id)))
  })

  app.post('/propose', async (req, res) => {
    res.type('html').send(proposalPage(portal, await portal.propose(req.body?.group ?? 'none')))
  })

  // ---- errors -------------------------------------------------------------------------------
  app.use((req, res, next) => next(new PortalError('PORTAL_NOT_FOUND', `no page ${req.method} ${req.path}`, 404)))

  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    // PortalErrors and body-parser's own (bad JSON, too large) are the client's fault; the
    // package's CLOUDOPTIM_* errors and anything else are the server's
    const status = err instanceof PortalError ? err.status
      : Number.isInteger(err.status) && err.status >= 400 && err.status < 500 ? err.status : 500
    const code = err.code ?? (status < 500 ? 'PORTAL_BAD_REQUEST' : 'PORTAL_INTERNAL')
    if (status >= 500) console.error(`${req.method} ${req.path}: ${err.stack ?? err}`)
    const message = status >= 500 && !String(code).startsWith('CLOUDOPTIM_') ? 'internal error (see the server log)' : err.message
    if (req.path.startsWith('/api/')) res.status(status).json({ error: { code, message } })
    else res.status(status).type('html').send(errorPage(status, message))
  })
  return app
}
