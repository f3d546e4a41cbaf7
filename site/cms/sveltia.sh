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
# 0.6 MB gzip), its licence, and schema/sveltia-cms.json (the configuration's
# JSON Schema, which cmd/campaign's TestCMSConfig checks config.yml against;
# kept here, outside the published site). npm checks the tarball against the
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
js=$(sha256sum "$tmp/package/dist/sveltia-cms.js" | cut -d' ' -f1)
schema=$(sha256sum "$tmp/package/schema/sveltia-cms.json" | cut -d' ' -f1)

if [ "$update" = 0 ]; then
  for pair in "tarball-integrity $integrity" "sveltia-cms.js $js" "sveltia-cms.json $schema"; do
    set -- $pair
    if [ "$(field "$1")" != "$2" ]; then
      echo "sveltia.sh: @sveltia/cms@$want: $1 is $2, the lock says $(field "$1"); nothing copied" >&2
      exit 1
    fi
  done
fi

cp "$tmp/package/dist/sveltia-cms.js" site/static/cms/sveltia-cms.js
cp "$tmp/package/LICENSE.txt" site/static/cms/sveltia-cms.LICENSE.txt
cp "$tmp/package/schema/sveltia-cms.json" site/cms/sveltia-cms.json
cat >"$lock" <<EOF
# Sveltia CMS as vendored by site/cms/sveltia.sh (do not edit by hand).
version $want
tarball-integrity $integrity
sveltia-cms.js $js
sveltia-cms.json $schema
EOF
echo "@sveltia/cms@$want: site/static/cms/sveltia-cms.js ($(wc -c <site/static/cms/sveltia-cms.js) bytes), sha256 $js"
