// The portal's data layer: loads a cluster once, analyzes it, and runs dry-run proposals against
// a copy of a GitOps repository. Knows nothing of HTTP; src/app.mjs serves it.
import { cp, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

import { analyze, demoCluster, loadCluster, propose } from 'cloudoptim'

/** Risk levels from least to most risky, for sorting. */
const RISK_ORDER = { low: 0, medium: 1, high: 2 }

/** The columns the recommendation list can be sorted by, each with its default direction. */
export const SORTS = {
  savings: { dir: 'desc', key: (r) => r.monthly_savings_usd },
  risk: { dir: 'asc', key: (r) => RISK_ORDER[r.risk.level] ?? 3 },
  kind: { dir: 'asc', key: (r) => r.kind },
  target: { dir: 'asc', key: (r) => targetLabel(r) },
  confidence: { dir: 'desc', key: (r) => r.confidence },
}

/** An error the portal raises itself, with a `code` like the package's errors and an HTTP status. */
export class PortalError extends Error {
  /**
   * @param {string} code `PORTAL_…`
   * @param {string} message
   * @param {number} status HTTP status to answer with
   */
  constructor(code, message, status = 400) {
    super(message)
    this.name = 'PortalError'
    this.code = code
    this.status = status
  }
}

/**
 * The analysis settings that `propose` understands too, so that the list and the pull requests
 * agree (settings that change proposed values, such as `strategy`, are left out on purpose).
 * @typedef {Pick<import('cloudoptim').AnalysisSettings, 'include_namespaces' | 'exclude_namespaces' | 'exclude_workloads' | 'exclude_node_groups' | 'min_monthly_savings'>} FILTERS
 */
const FILTER_KEYS = {
  include_namespaces: 'includeNamespaces',
  exclude_namespaces: 'excludeNamespaces',
  exclude_workloads: 'excludeWorkloads',
  exclude_node_groups: 'excludeNodeGroups',
  min_monthly_savings: 'minSaving',
}

/** `namespace/workload (container)`, a node group, a node, a volume or an instance. */
export function targetLabel(rec) {
  const t = rec.target
  if (t.workload) {
    const base = t.namespace ? `${t.namespace}/${t.workload}` : t.workload
    return t.container ? `${base} (${t.container})` : base
  }
  return t.node_group ?? t.node ?? t.volume ?? t.instance ?? t.namespace ?? t.cluster
}

/**
 * Sorts a copy of the recommendations. Ties keep the report's order (largest saving first).
 * @param {import('cloudoptim').Recommendation[]} recs
 * @param {string} [sort] a key of `SORTS` (default `savings`)
 * @param {string} [dir] `asc` or `desc` (default: the column's own)
 */
export function sortRecommendations(recs, sort = 'savings', dir) {
  const column = Object.hasOwn(SORTS, sort) ? SORTS[sort] : undefined
  if (!column) {
    throw new PortalError('PORTAL_BAD_SORT', `unknown sort column \`${sort}\` (one of: ${Object.keys(SORTS).join(', ')})`)
  }
  const d = dir ?? column.dir
  if (d !== 'asc' && d !== 'desc') {
    throw new PortalError('PORTAL_BAD_SORT', `unknown sort direction \`${dir}\` (asc or desc)`)
  }
  const sign = d === 'asc' ? 1 : -1
  return recs
    .map((r, i) => [r, i])
    .sort(([a, ia], [b, ib]) => {
      const ka = column.key(a)
      const kb = column.key(b)
      if (ka < kb) return -sign
      if (ka > kb) return sign
      return ia - ib
    })
    .map(([r]) => r)
}

/**
 * Loads the cluster and analyzes it.
 * @param {object} [options]
 * @param {string} [options.clusterPath] a `kubectl get … -o json|yaml` file or folder (default: the embedded demo)
 * @param {string} [options.clusterName] the cluster's name, when the dump does not say
 * @param {string} options.repo the GitOps repository folder that proposals are made against (only ever copied)
 * @param {import('cloudoptim').CustomAnalyzer[]} [options.extraAnalyzers] analyzers of your own
 * @param {FILTERS} [options.filters] which findings to keep, applied to the list and the proposals alike
 */
export async function createPortal(options) {
  const repo = resolve(options.repo)
  const info = await stat(repo).catch((e) => {
    throw new PortalError('PORTAL_CONFIG', `GitOps repository ${repo}: ${e.code === 'ENOENT' ? 'no such folder' : e.message}`)
  })
  if (!info.isDirectory()) throw new PortalError('PORTAL_CONFIG', `GitOps repository ${repo} is not a folder`)
  const filters = options.filters ?? {}
  const proposeFilters = {}
  for (const [key, value] of Object.entries(filters)) {
    if (!Object.hasOwn(FILTER_KEYS, key)) {
      throw new PortalError('PORTAL_CONFIG', `filters: unknown key \`${key}\` (one of: ${Object.keys(FILTER_KEYS).join(', ')})`)
    }
    proposeFilters[FILTER_KEYS[key]] = value
  }

  const cluster = options.clusterPath
    ? await loadCluster(resolve(options.clusterPath), options.clusterName ? { clusterName: options.clusterName } : undefined)
    : demoCluster()
  const report = (
    await analyze(cluster, { extraAnalyzers: options.extraAnalyzers, filters })
  ).toJSON()
  const byId = new Map(report.recommendations.map((r) => [r.id, r]))

  /** Runs `propose` in dry-run mode against a fresh copy of the repository. */
  async function dryRun(group = 'none') {
    if (group !== 'none' && group !== 'namespace') {
      throw new PortalError('PORTAL_BAD_GROUP', `unknown grouping \`${group}\` (none or namespace)`)
    }
    const dir = await mkdtemp(join(tmpdir(), 'cloudoptim-portal-'))
    try {
      const copy = join(dir, 'repo')
      await cp(repo, copy, { recursive: true, verbatimSymlinks: true })
      const result = await propose(cluster, copy, { ...proposeFilters, dryRun: true, group })
      // the copy is gone when this returns: name the repository that was asked for
      return { ...result, repository: repo }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }

  // one dry run per recommendation would repeat the same work: the diffs of a single ungrouped
  // run are kept (a failed run is not, so the next request tries again)
  let perRecommendation = null
  function ungrouped() {
    if (!perRecommendation) {
      perRecommendation = dryRun('none').catch((e) => {
        perRecommendation = null
        throw e
      })
    }
    return perRecommendation
  }

  return {
    /** Where the cluster came from: the dump's path, or `demo`. */
    source: options.clusterPath ? resolve(options.clusterPath) : 'demo',
    /** The GitOps repository folder. */
    repo,
    /** Load warnings. */
    warnings: cluster.warnings,
    /** The report as JSON data. */
    report,

    /** A recommendation by id, or a `PORTAL_NOT_FOUND` error. */
    recommendation(id) {
      const rec = byId.get(id)
      if (!rec) throw new PortalError('PORTAL_NOT_FOUND', `no recommendation with id \`${id}\``, 404)
      return rec
    },

    /**
     * What a pull request for one recommendation would change: the dry-run item holding it
     * (status, branch, title, files, unified diff), or why there is none.
     */
    async preview(id) {
      const rec = this.recommendation(id)
      const result = await ungrouped()
      const item = result.items.find((i) => i.recommendation_ids.includes(id))
      if (!item) {
        return {
          id,
          title: rec.title,
          status: 'not_proposed',
          reason: 'the proposal does not cover this recommendation (an analyzer of the portal, not of cloudoptim)',
          files: [],
          diff: '',
        }
      }
      return {
        id,
        title: rec.title,
        status: item.status,
        branch: item.branch,
        pr_title: item.title,
        reason: item.reason,
        files: item.files ?? [],
        diff: item.diff ?? '',
      }
    },

    /** A fresh dry-run proposal: the pull requests that would be opened. */
    propose: (group) => dryRun(group),
  }
}
