// Shared by the tests (not a test itself): a portal server on an OS-chosen port, the example
// GitOps repository, a snapshot of a folder, and the Chromium the browser test drives.
import { existsSync } from 'node:fs'
import { readdir, readFile, readlink } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

import { createApp } from '../src/app.mjs'
import { createPortal } from '../src/portal.mjs'

/** The portal folder (examples/portal). */
export const portalDir = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** The example GitOps repository the proposals are made against. */
export const gitopsRepo = resolve(portalDir, '..', 'gitops-repo')
/** Where the browser test leaves its screenshots (git-ignored). */
export const artifactsDir = join(portalDir, 'test-artifacts')

/**
 * Starts a portal on 127.0.0.1 and an OS-chosen port.
 * @param {Parameters<typeof createPortal>[0]} [options] (default: the demo cluster and the example repository)
 */
export async function startPortal(options = {}) {
  const portal = await createPortal({ repo: gitopsRepo, ...options })
  const server = createApp(portal).listen(0, '127.0.0.1')
  await new Promise((ok, fail) => server.once('listening', ok).once('error', fail))
  const { port } = server.address()
  return {
    portal,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((ok) => { server.closeAllConnections(); server.close(ok) }),
  }
}

/** Every file under `root`: relative path → contents (symlinks: their target). */
export async function snapshot(root) {
  const out = {}
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    const p = join(e.parentPath ?? e.path, e.name)
    const rel = p.slice(root.length + 1)
    if (e.isSymbolicLink()) out[rel] = `-> ${await readlink(p)}`
    else if (e.isFile()) out[rel] = (await readFile(p)).toString('base64')
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)))
}

/**
 * The Chromium to drive: `$CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. Throws when it is
 * missing, so that a machine without it fails the test run instead of skipping the browser test.
 */
export function chromiumPath() {
  const path = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
  if (!existsSync(path)) {
    throw new Error(
      `Chromium not found at ${path}: install Debian's package (apt-get install -y chromium) ` +
        'or set CHROMIUM_PATH to a Chromium binary',
    )
  }
  return path
}

/** USD as the portal shows it, formatted here independently of the portal's code. */
export const usd = (n) => (n < 0 ? '-' : '') + '$' + Math.abs(n).toFixed(2).replace(/\B(?=(\d{3})+(?!\d))/g, ',')
