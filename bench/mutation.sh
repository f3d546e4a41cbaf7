#!/usr/bin/env bash
# Mutation testing (gremlins) on the packages where a surviving mutant would
# hurt supporters. A developer's tool, not a CI gate: it always exits 0 once
# gremlins is installed, and prints one row per package plus every LIVED mutant.
#
#   bash bench/mutation.sh                  # the default packages below
#   bash bench/mutation.sh ./handler/letter # or any packages you name
#
# Knobs (environment): MUTATION_BUDGET seconds per package (default 360),
# MUTATION_WORKERS (default: three per CPU), MUTATION_COEFFICIENT (gremlins'
# per-mutant timeout = the package's coverage run x this; default 5).
# Postgres tests run only if CAMPAIGN_TEST_DATABASE_URL is set (as .ci/run does).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

version=v0.6.0   # newest on the proxy; builds with this repo's Go
gremlins="$root/.ci/bin/gremlins"
if ! go version -m "$gremlins" 2>/dev/null | grep -q "gremlins[[:space:]]*$version"; then
  GOBIN="$root/.ci/bin" go install "github.com/go-gremlins/gremlins/cmd/gremlins@$version"
fi

if [ $# -gt 0 ]; then pkgs=("$@"); else
  pkgs=(./handler ./handler/letter ./handler/deliver ./handler/queue ./handler/mailgun
        ./netlify/lambda ./netlify/functions/sign ./netlify/functions/deliver)
fi
budget=${MUTATION_BUDGET:-360}
workers=${MUTATION_WORKERS:-$(( 3 * $(nproc) ))}   # the queue's tests mostly wait
coef=${MUTATION_COEFFICIENT:-5}

# gremlins passes no test flags, but `go test` reads them from GOFLAGS.
# -count=1: a cached coverage run would time gremlins' per-mutant timeout at ~0 s.
# -skip: the Lambda emulator test rebuilds the whole site for every mutant.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-short -count=1 -skip=TestBuiltFunctionUnderLambdaEmulator"
echo "Postgres tests: $([ -n "${CAMPAIGN_TEST_DATABASE_URL:-}" ] && echo on || echo "skipped (CAMPAIGN_TEST_DATABASE_URL unset)")"

# Work on a copy of the tree (with uncommitted edits; without .git and build
# output): gremlins copies the module once per worker. In the copy a `package
# main` directory is renamed to end in "main", because gremlins v0.6.0 finds the
# package to test by that suffix and would otherwise test the module root.
out=$(mktemp -d "${TMPDIR:-/tmp}/mutation.XXXXXX")
stage="$out/src"; mkdir -p "$stage" "$out/tmp"
tar -C "$root" --exclude=./.git --exclude=./.ci --exclude=./public --exclude=./.campaign \
    --exclude=./site/resources -cf - . | tar -C "$stage" -xf -
export TMPDIR="$out/tmp"   # gremlins' work copies; gone with $out if a run is cut

# A `go` shim for gremlins. (1) It counts a mutant that does not compile
# ("a" - "b") as KILLED, as `go test` exits 1 for it too: exit 2 makes it NOT
# VIABLE. (2) Its per-mutant timeout is the coverage run's time x coefficient;
# a package whose coverage run takes 0.3 s (build cached) times out mutants that
# must rebuild under load, so the coverage run is padded to at least 12 s.
export MUTATION_REAL_GO; MUTATION_REAL_GO=$(command -v go)
mkdir -p "$out/bin"
cat >"$out/bin/go" <<'SHIM'
#!/usr/bin/env bash
[ "$1" = test ] || exec "$MUTATION_REAL_GO" "$@"
log=$("$MUTATION_REAL_GO" "$@" 2>&1); rc=$?
printf '%s\n' "$log"
case " $* " in *" -coverprofile "*) [ $SECONDS -lt 12 ] && sleep $((12 - SECONDS)) ;; esac
if [ $rc -ne 0 ] && grep -q '\[build failed\]' <<<"$log"; then exit 2; fi
exit $rc
SHIM
chmod +x "$out/bin/go"; export PATH="$out/bin:$PATH"
cd "$stage"

printf '%-28s %6s %5s %7s %7s %7s %8s %8s %5s\n' package killed lived not-cov timeout no-build efficacy coverage secs
for pkg in "${pkgs[@]}"; do
  dir=${pkg#./}; dir=${dir%/}; name=${dir//\//_}
  if grep -qsx 'package main' "$dir"/*.go && [ "${dir%main}" = "$dir" ]; then
    mv "$dir" "${dir}_main"; dir="${dir}_main"
  fi
  start=$(date +%s)
  # -E /: gremlins walks subdirectories too; mutate only this package's files.
  timeout -k 30 "$budget" "$gremlins" unleash "./$dir" -E / --workers "$workers" \
    --timeout-coefficient "$coef" -o "$out/$name.json" >"$out/$name.log" 2>&1 || true
  secs=$(( $(date +%s) - start ))
  # One line per mutant ("  LIVED CONDITIONALS_NEGATION at file.go:12:5"): count
  # them, so a run cut by the budget still reports what it had finished.
  sed 's/\x1b\[[0-9;]*m//g' "$out/$name.log" | awk -v pkg="$pkg" -v secs="$secs" -v lived="$out/$name.lived" '
    /Shutting down/ { cut = 1 }   # mutants in flight when the budget ran out report LIVED
    !cut && NF > 2 && $(NF-1) == "at" { s = $1; if (s == "NOT" || s == "TIMED") s = s " " $2; n[s]++
                      if (s == "LIVED") print "  " pkg "/" $NF "  " $(NF-2) > lived }
    /Mutation testing completed/ { done = 1 }
    END { k = n["KILLED"]+0; l = n["LIVED"]+0; nc = n["NOT COVERED"]+0
          eff = k+l ? sprintf("%.1f%%", 100*k/(k+l)) : "-"
          cov = k+l+nc ? sprintf("%.1f%%", 100*(k+l)/(k+l+nc)) : "-"
          printf "%-28s %6d %5d %7d %7d %7d %8s %8s %5d%s\n", pkg, k, l, nc, n["TIMED OUT"]+0, n["NOT VIABLE"]+0, eff, cov, secs,
                 done ? "" : (k+l+nc ? "  (cut by budget)" : "  (no result: see log)") }'
done
echo; echo "LIVED mutants (a test suite that still passes with this change):"
sort -V "$out"/*.lived 2>/dev/null || echo "  none"
rm -rf "$stage" "$out/tmp"
echo; echo "logs and gremlins JSON: $out"
