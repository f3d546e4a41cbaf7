#!/usr/bin/env bash
# Vendors Sveltia CMS (npm package @sveltia/cms) into site/static/cms/, so
# that /cms/ is served from the site's own origin at a pinned version, by
# `campaign serve` on a clean clone and by Netlify's build alike (no CDN, no
# npm at build time).
#
#   bash site/cms/sveltia.sh            re-fetch the pinned version and check
#                                       it against site/cms/sveltia.lock
#   bash site/cms/sveltia.sh 0.222.0    move to that version: fetch it, copy
#                                       it in and record its hashes in the lock
#
# What is vendored: dist/sveltia-cms.js (the one-file build, about 2.1 MB,
# 0.6 MB gzip) and its licence; the three fonts its interface uses (0.8 MB,
# from the package's npm/assets), with their licences, in fonts/, and the
# build's three links to them on cdn.jsdelivr.net pointed there instead (the
# one change made to the file, so that the CMS loads nothing from a CDN);
# and schema/sveltia-cms.json (the configuration's JSON Schema, which
# cmd/campaign's TestCMSConfigSchema checks config.yml against; kept here,
# outside the published site). npm checks the tarball against the
# registry's sha512; this script then checks it against the lock, so a
# re-fetch that differs from what was reviewed stops here.
set -euo pipefail
cd "$(dirname "$0")/../.."
lock=site/cms/sveltia.lock
field() { awk -v k="$1" '$1 == k { print $2 }' "$lock"; }

want=${1:-}
update=1
if [ -z "$want" ]; then
  want=$(field version)
  update=0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# npm pack verifies the download against the registry's integrity field.
(cd "$tmp" && npm pack --silent --json "@sveltia/cms@$want" >pack.json)
integrity=$(node -e 'console.log(require(process.argv[1])[0].integrity)' "$tmp/pack.json")
tarball=$(node -e 'console.log(require(process.argv[1])[0].filename)' "$tmp/pack.json")
tar -xzf "$tmp/$tarball" -C "$tmp"
# The fonts: dist's links on jsDelivr become fonts/<name>.woff2 beside it.
out=$tmp/out
mkdir -p "$out/fonts"
cp "$tmp/package/dist/sveltia-cms.js" "$out/sveltia-cms.js"
cdn='https://cdn\.jsdelivr\.net/fontsource/fonts/([a-z0-9-]+)(:vf)?@[0-9.]+/([a-z0-9-]+)\.woff2'
for name in $(grep -oE "$cdn" "$out/sveltia-cms.js" | sed -E "s#$cdn#\\1-\\3#" | sort -u); do
  font=$(ls "$tmp/package/npm/assets/$name"-*.woff2)
  cp "$font" "$out/fonts/$name.woff2"
  family=$(echo "$name" | sed -E 's/-latin-.*//')
  cp "$tmp/package/npm/assets/$family.LICENSE.txt" "$out/fonts/$family.LICENSE.txt"
done
sed -E -i "s#$cdn#fonts/\\1-\\3.woff2#g" "$out/sveltia-cms.js"
if grep -q 'cdn\.jsdelivr\.net' "$out/sveltia-cms.js"; then
  echo "sveltia.sh: sveltia-cms.js still links to cdn.jsdelivr.net after the fonts were pointed here" >&2
  exit 1
fi
for f in $(grep -oE 'fonts/[a-z0-9-]+\.woff2' "$out/sveltia-cms.js" | sort -u); do
  test -s "$out/$f" || { echo "sveltia.sh: sveltia-cms.js names $f, which the package lacks" >&2; exit 1; }
done

sums=$( (cd "$out" && sha256sum sveltia-cms.js fonts/*.woff2) | awk '{ print $2, $1 }'
  echo "sveltia-cms.json $(sha256sum "$tmp/package/schema/sveltia-cms.json" | cut -d' ' -f1)")

if [ "$update" = 0 ]; then
  if [ "$(field tarball-integrity)" != "$integrity" ]; then
    echo "sveltia.sh: @sveltia/cms@$want: tarball $integrity, the lock says $(field tarball-integrity); nothing copied" >&2
    exit 1
  fi
  if [ "$sums" != "$(grep -vE '^(#|version|tarball-integrity)' "$lock")" ]; then
    echo "sveltia.sh: @sveltia/cms@$want: the files differ from the lock; nothing copied" >&2
    diff <(echo "$sums") <(grep -vE '^(#|version|tarball-integrity)' "$lock") >&2 || true
    exit 1
  fi
fi

rm -rf site/static/cms/fonts
cp -r "$out/fonts" site/static/cms/fonts
cp "$out/sveltia-cms.js" site/static/cms/sveltia-cms.js
cp "$tmp/package/LICENSE.txt" site/static/cms/sveltia-cms.LICENSE.txt
cp "$tmp/package/schema/sveltia-cms.json" site/cms/sveltia-cms.json
{
  echo "# Sveltia CMS as vendored by site/cms/sveltia.sh (do not edit by hand): the"
  echo "# npm tarball's integrity, then each vendored file's sha256."
  echo "version $want"
  echo "tarball-integrity $integrity"
  echo "$sums"
} >"$lock"
echo "@sveltia/cms@$want: site/static/cms/sveltia-cms.js ($(wc -c <site/static/cms/sveltia-cms.js) bytes) and $(ls site/static/cms/fonts/*.woff2 | wc -l) fonts ($(cat site/static/cms/fonts/*.woff2 | wc -c) bytes)"
