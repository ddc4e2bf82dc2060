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
