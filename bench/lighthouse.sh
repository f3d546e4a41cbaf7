#!/usr/bin/env bash
# Lighthouse 12.2.3 (mobile preset: Moto G Power, slow 4G, 4x CPU slowdown;
# PRESET=desktop for the desktop one) on the campaign page (or PAGE=thanks/)
# served by `campaign serve`, with Debian's Chromium. Prints performance,
# accessibility, best-practices and SEO scores and the page's metrics; the
# full report goes to $OUT (default a temp file).
# Needs: chromium (apt), npx (npm registry reachable).
set -euo pipefail
cd "$(dirname "$0")/.."
addr=${ADDR:-127.0.0.1:8099}
out=${OUT:-$(mktemp -d)/lighthouse.json}
data=$(mktemp -d); public=$(mktemp -d)
# The same program as `go run ./cmd/campaign serve`, built first so that the
# trap below stops the server itself (go run would leave its child running).
go build -o "$data/campaign" ./cmd/campaign
CAMPAIGN_DATA_DIR=$data "$data/campaign" serve -addr "$addr" -public "$public/public" >"$data/serve.log" 2>&1 &
serve=$!
trap 'kill $serve 2>/dev/null; wait $serve 2>/dev/null; rm -rf "$data" "$public"' EXIT
for _ in $(seq 1 300); do curl -fs "http://$addr/" >/dev/null && break; sleep 1; done
CHROME_PATH=${CHROME_PATH:-/usr/bin/chromium} npx -y lighthouse@12.2.3 "http://$addr/${PAGE:-}" \
  $([ "${PRESET:-}" = desktop ] && echo --preset=desktop || echo --form-factor=mobile) \
  --only-categories=performance,accessibility,best-practices,seo \
  --chrome-flags="--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync --no-first-run" \
  --output=json --output-path="$out" --quiet
node -e '
const r = require(process.argv[1]), a = r.audits;
for (const [k, c] of Object.entries(r.categories)) console.log(k.padEnd(26), Math.round(c.score * 100));
for (const k of ["first-contentful-paint", "largest-contentful-paint", "total-blocking-time", "cumulative-layout-shift", "speed-index", "total-byte-weight"])
  console.log(k.padEnd(26), a[k].displayValue);
for (const [k, v] of Object.entries(a)) if (v.score !== null && v.score < 1 && ["binary", "numeric", "metricSavings"].includes(v.scoreDisplayMode)) console.log("not perfect:", k, "-", v.title, v.displayValue || "");
' "$out"
echo "report: $out"
