// Shared by the tests (not a test itself): paths of the public test data and the Rust CLI.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The package folder (cloudoptim-node). */
export const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** The repository root. */
export const repoRoot = resolve(packageDir, '..')

/**
 * The public test data folder: `$CLOUDOPTIM_SHARED_DATA`, else `../shared/data` beside the
 * repository. Throws when missing so a run without it fails instead of testing nothing.
 */
export function sharedData() {
  const dir = process.env.CLOUDOPTIM_SHARED_DATA ?? resolve(repoRoot, '..', 'shared', 'data')
  if (!existsSync(join(dir, 'PROVENANCE.md'))) {
    throw new Error(`public test data not found at ${dir} (set CLOUDOPTIM_SHARED_DATA)`)
  }
  return dir
}

/** A file in the shared data folder. */
export const data = (rel) => join(sharedData(), rel)

/** A fresh temporary folder. */
export const tempDir = () => mkdtemp(join(tmpdir(), 'cloudoptim-node-test-'))

/**
 * The `cloudoptim` CLI binary (`$CLOUDOPTIM_CLI`, else `$CARGO_TARGET_DIR/debug/cloudoptim`),
 * built with `cargo build -p cloudoptim-cli` when missing.
 */
export function cliBinary() {
  if (process.env.CLOUDOPTIM_CLI) return process.env.CLOUDOPTIM_CLI
  const targetDir = process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'cloudoptim-target')
  const bin = join(targetDir, 'debug', process.platform === 'win32' ? 'cloudoptim.exe' : 'cloudoptim')
  if (!existsSync(bin)) {
    const r = spawnSync('cargo', ['build', '-p', 'cloudoptim-cli'], {
      cwd: repoRoot,
      env: { ...process.env, CARGO_TARGET_DIR: targetDir },
      stdio: 'inherit',
    })
    if (r.status !== 0) throw new Error(`cargo build -p cloudoptim-cli failed (${r.status})`)
  }
  return bin
}

/** Runs the CLI and returns its stdout; throws on a non-zero exit. */
export function runCli(...args) {
  const r = spawnSync(cliBinary(), args, { encoding: 'utf8', maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`cloudoptim ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return r.stdout
}

/** The Cargo target folder the tests build into. */
const targetDir = () => process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'cloudoptim-target')

/** Waits until `ready()` is true, checking every 50 ms; throws with `what` after `limitMs`. */
async function waitFor(ready, what, limitMs = 120_000) {
  const start = Date.now()
  while (!(await ready())) {
    if (Date.now() - start > limitMs) throw new Error(`gave up waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** A free TCP port of 127.0.0.1. */
export async function freePort() {
  const { createServer } = await import('node:net')
  return new Promise((resolvePort, reject) => {
    const srv = createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolvePort(port))
    })
  })
}

/**
 * Starts the fake Kubernetes API server of the tests crate (`$CLOUDOPTIM_FAKE_KUBE`, else
 * `fake-kube` built with cargo) serving its sample cluster; resolves to `{ kubeconfig, url, stop() }` once it
 * answers. The kubeconfig's current context is `fake`.
 */
export async function startFakeKube() {
  const { spawn } = await import('node:child_process')
  const { copyFile, readFile } = await import('node:fs/promises')
  const dir = await tempDir()
  let bin = process.env.CLOUDOPTIM_FAKE_KUBE
  if (!bin) {
    // built from this tree (cargo only rebuilds when needed), then copied: the target folder
    // may be shared with other builds of the workspace
    const r = spawnSync('cargo', ['build', '-p', 'cloudoptim-tests', '--bin', 'fake-kube'], {
      cwd: repoRoot,
      env: { ...process.env, CARGO_TARGET_DIR: targetDir() },
      stdio: 'inherit',
    })
    if (r.status !== 0) throw new Error(`cargo build --bin fake-kube failed (${r.status})`)
    bin = join(dir, 'fake-kube')
    await copyFile(join(targetDir(), 'debug', 'fake-kube'), bin)
  }
  const portFile = join(dir, 'port')
  const kubeconfig = join(dir, 'kubeconfig')
  const child = spawn(bin, ['--port-file', portFile, '--kubeconfig', kubeconfig], { stdio: ['ignore', 'ignore', 'inherit'] })
  let exited = null
  child.on('exit', (code) => { exited = code ?? 'signal' })
  await waitFor(() => {
    if (exited !== null) throw new Error(`fake-kube exited (${exited}) before it was ready`)
    return existsSync(portFile)
  }, 'fake-kube')
  const port = Number((await readFile(portFile, 'utf8')).trim())
  return {
    kubeconfig,
    url: `http://127.0.0.1:${port}`,
    stop: () => child.kill(),
  }
}

/**
 * Starts moto's server (`$MOTO_SERVER_BIN`, else `moto_server` on PATH) on a free port and
 * resolves to `{ endpoint, stop() }` once it answers.
 */
export async function startMoto() {
  const bin = process.env.MOTO_SERVER_BIN ?? 'moto_server'
  const port = await freePort()
  const { spawn } = await import('node:child_process')
  const dir = await tempDir()
  const child = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], { cwd: dir, stdio: 'ignore' })
  let failed = null
  child.on('error', (e) => { failed = e })
  child.on('exit', (code) => { failed ??= new Error(`moto_server exited (${code})`) })
  const endpoint = `http://127.0.0.1:${port}`
  await waitFor(async () => {
    if (failed) throw new Error(`moto_server (${bin}) did not start: ${failed.message}; install it with \`pip install "moto[server]"\` or set MOTO_SERVER_BIN`)
    try {
      return (await fetch(`${endpoint}/moto-api/`)).ok
    } catch {
      return false
    }
  }, 'moto_server')
  return { endpoint, stop: () => child.kill() }
}

/**
 * Backfills OpenMetrics text (ending with `# EOF`) with `promtool` and starts the Debian
 * `prometheus` on it; resolves to `{ url, stop() }` once ready.
 */
export async function startPrometheus(openmetrics) {
  const { spawn } = await import('node:child_process')
  const { writeFile } = await import('node:fs/promises')
  const dir = await tempDir()
  await writeFile(join(dir, 'series.om'), openmetrics)
  const r = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'series.om'), join(dir, 'data'), '--quiet'], { encoding: 'utf8' })
  if (r.error || r.status !== 0) {
    throw new Error(`promtool failed (install Prometheus with \`apt-get install -y prometheus\`): ${r.error?.message ?? r.stderr}`)
  }
  await writeFile(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1h\nscrape_configs: []\n')
  const addr = `127.0.0.1:${await freePort()}`
  const child = spawn('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    '--storage.tsdb.retention.time=30d', `--web.listen-address=${addr}`, '--log.level=warn',
  ], { cwd: dir, stdio: 'ignore' })
  let failed = null
  child.on('error', (e) => { failed = e })
  child.on('exit', (code) => { failed ??= new Error(`prometheus exited (${code})`) })
  await waitFor(async () => {
    if (failed) throw new Error(`prometheus did not start: ${failed.message}`)
    try {
      return (await fetch(`http://${addr}/-/ready`)).ok
    } catch {
      return false
    }
  }, 'prometheus')
  return { url: `http://${addr}`, stop: () => child.kill() }
}
