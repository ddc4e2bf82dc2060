// Starts the portal: `npm start`. Configuration comes from the environment (see README.md).
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { createApp } from './src/app.mjs'
import { createPortal } from './src/portal.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const env = process.env

/** A comma-separated list, or undefined when unset or empty. */
const list = (value) => (value ? value.split(',').map((s) => s.trim()).filter(Boolean) : undefined)

const port = Number(env.PORT ?? 3000)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT: \`${env.PORT}\` is not a port number`)
  process.exit(2)
}
const host = env.HOST ?? '127.0.0.1'

const filters = Object.fromEntries(
  Object.entries({
    include_namespaces: list(env.CLOUDOPTIM_PORTAL_INCLUDE_NAMESPACES),
    exclude_namespaces: list(env.CLOUDOPTIM_PORTAL_EXCLUDE_NAMESPACES),
  }).filter(([, v]) => v !== undefined),
)

let portal
try {
  portal = await createPortal({
    clusterPath: env.CLOUDOPTIM_PORTAL_CLUSTER || undefined,
    clusterName: env.CLOUDOPTIM_PORTAL_CLUSTER_NAME || undefined,
    repo: env.CLOUDOPTIM_PORTAL_REPO || join(here, '..', 'gitops-repo'),
    filters,
  })
} catch (e) {
  // load errors name the file, object and field; the code says which kind it is
  console.error(`cloudoptim portal: cannot start: ${e.message}${e.code ? ` (${e.code})` : ''}`)
  process.exit(1)
}

const server = createApp(portal).listen(port, host, () => {
  const { address, port: bound } = server.address()
  const shown = address.includes(':') ? `[${address}]` : address
  const { name } = portal.report.cluster
  console.log(`cloudoptim portal: ${name} (${portal.report.totals.recommendations} recommendations) on http://${shown}:${bound}/`)
})
server.on('error', (e) => {
  console.error(`cloudoptim portal: cannot listen on ${host}:${port}: ${e.message}`)
  process.exit(1)
})
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)))
