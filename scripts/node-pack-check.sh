#!/usr/bin/env bash
# Packs cloudoptim-node with `npm pack` and installs the tarball into a fresh Node project in
# a temporary folder outside the repository, as a user would (`npm install ./cloudoptim-….tgz
# typescript`); then checks there that `require('cloudoptim')` (CommonJS) and `import … from
# 'cloudoptim'` (ESM) work, and that TypeScript files using the types type-check with
# `tsc --noEmit` under moduleResolution node16 and bundler. Needs a built package (`npm run
# build` in cloudoptim-node). Any failure stops the script with a message.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
pkg="$here/cloudoptim-node"
fail() { echo "node-pack-check: FAILED: $*" >&2; exit 1; }

ls "$pkg"/*.node >/dev/null 2>&1 || fail "no native module in $pkg: run \`npm run build\` there first"
work="$(mktemp -d "${TMPDIR:-/tmp}/cloudoptim-pack.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# 1. the tarball, and what it holds
tgz_name="$(cd "$pkg" && npm pack --silent --pack-destination "$work")" || fail "npm pack"
tgz="$work/$tgz_name"
[[ -f "$tgz" ]] || fail "npm pack wrote no $tgz"
listing="$(tar -tzf "$tgz")"
for f in package/package.json package/index.js package/index.mjs package/index.d.ts package/README.md; do
    grep -qx "$f" <<<"$listing" || fail "$tgz_name lacks ${f#package/}"
done
grep -q '^package/.*\.node$' <<<"$listing" || fail "$tgz_name holds no native module"
if grep -q '^package/\(src\|test\|node_modules\)/' <<<"$listing"; then
    fail "$tgz_name holds sources, tests or node_modules"
fi

# 2. a fresh project
proj="$work/project"
mkdir "$proj"
cd "$proj"
npm init -y >/dev/null
npm install --no-audit --no-fund --prefer-offline "$tgz" typescript >/dev/null \
    || fail "npm install $tgz_name typescript"
[[ -f node_modules/cloudoptim/package.json && ! -L node_modules/cloudoptim ]] \
    || fail "cloudoptim is not installed as a copy in node_modules"

# 3. CommonJS
cat > cjs.cjs <<'JS'
const assert = require('node:assert/strict')
const co = require('cloudoptim')
assert.match(require.resolve('cloudoptim'), /node_modules[\\/]cloudoptim[\\/]index\.js$/)
co.analyze(co.demoCluster()).then((report) => {
  assert.ok(report.recommendations.length > 0)
  assert.equal(typeof co.version(), 'string')
  console.log(`cjs: ${report.recommendations.length} recommendations`)
})
JS
node cjs.cjs || fail "require('cloudoptim')"

# 4. ESM
cat > esm.mjs <<'JS'
import assert from 'node:assert/strict'
import cloudoptim, { analyze, demoCluster, consolidate, Report } from 'cloudoptim'
const report = await analyze(demoCluster())
assert.ok(report instanceof Report)
assert.equal(cloudoptim.analyze, analyze)
const plan = await consolidate(demoCluster(), { mode: 'remove' })
assert.equal(plan.mode, 'remove')
console.log(`esm: ${report.recommendations.length} recommendations, plan saves ${plan.monthlySaving.toFixed(0)} USD/month`)
JS
node esm.mjs || fail "import from 'cloudoptim'"

# 5. TypeScript, CommonJS and ES module files, node16 and bundler resolution
cat > use.ts <<'TS'
import { analyze, demoCluster, scoreSpotTypes, type Recommendation, type CustomSpotScorer } from 'cloudoptim'
const scorer: CustomSpotScorer = { name: 'flat', score: (input) => ({ risk: input.builtin.risk }) }
export async function main(): Promise<number> {
  const report = await analyze(demoCluster(), { onProgress: (e) => void e.analyzer.toUpperCase() })
  const recs: Recommendation[] = report.recommendations
  const scores = await scoreSpotTypes('m5.*', { scorer })
  // @ts-expect-error: typed, not any
  const wrong: string = report.totals
  return recs.length + scores.length + (wrong ? 0 : 1)
}
TS
cat > use-esm.mts <<'TS'
import { loadCluster, apply, type StepOutcome } from 'cloudoptim'
const outcomes: StepOutcome[] = await apply({ steps: [{ action: 'cordon', node: 'n1', why: 'test' }] })
const cluster = await loadCluster({ kubeconfig: '/dev/null', context: 'fake' })
export const n: number = outcomes.length + cluster.nodeCount
TS
for res in node16 bundler; do
    if [[ $res == node16 ]]; then module=node16; else module=esnext; fi
    cat > "tsconfig.$res.json" <<JSON
{
  "compilerOptions": {
    "strict": true,
    "noEmit": true,
    "target": "es2022",
    "lib": ["es2022"],
    "module": "$module",
    "moduleResolution": "$res",
    "types": [],
    "skipLibCheck": false
  },
  "files": ["use.ts", "use-esm.mts"]
}
JSON
    npx --no-install tsc -p "tsconfig.$res.json" || fail "tsc --noEmit with moduleResolution $res"
    echo "tsc ($res): ok"
done
echo "node-pack-check: ok ($tgz_name, $(du -h "$tgz" | cut -f1))"
