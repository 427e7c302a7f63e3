#!/usr/bin/env bash
# Same marts before and after a change: builds REV (default: main's first parent, HEAD~1) and
# the working tree, runs `demo` with both on the same generated extracts, and compares every
# published model row for row and value for value (numbers to 1e-9 relative), in DuckDB
# (scripts/compare_csv.py, which scales to the 10M benchmark's marts). A column the change adds
# is named and left out of the comparison; a column it drops is a difference.
# Needs Python's duckdb package (pip install duckdb), as ../shared/bench/duckdb_fast.py does.
#
#   scripts/compare_marts.sh [REV] [EVENTS]
#   RENAMED="stg_sessions=int_sessions stg_leads=int_leads" scripts/compare_marts.sh REV
#
# RENAMED pairs a model of REV with its new name; a model REV does not publish (or whose name
# was given to a renamed one) is listed as new and not compared.
#
# BASE_BIN=PATH runs REV's queries and config with that binary instead of building REV: for a
# change of the SQL when building the old code would rebuild every dependency (a Cargo.lock
# whose features differ), or to compare the old SQL path with the new one in one binary.
#
# NEW_BIN=PATH runs the working tree's queries with that binary instead of a debug build of it.
# DATA=DIR builds both sides from a ../shared/bench/gen_extracts.py folder (each side's own
# scripts/bench_project.py writes its project over DIR, `clearsight build` loads and runs it)
# instead of `demo` on EVENTS generated events: the previous code's mart on a benchmark's data.
#
# Exit 0 when every mart is equal, 1 with the first differences otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
REV="${1:-HEAD~1}"
EVENTS="${2:-20000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clearsight-target}"
WORK="$(mktemp -d /tmp/clearsight-compare.XXXXXX)"
# The work folder (two warehouses and their CSVs: 20 GB at 10M events) goes when every model
# is equal; after a difference or a failure it stays for a look, and the script says where.
# KEEP_WORK=1 keeps it anyway.
finish() {
  git worktree remove --force "$WORK/base-src" >/dev/null 2>&1 || true
  if [ "$1" = 0 ] && [ -z "${KEEP_WORK:-}" ]; then
    rm -rf "$WORK"
  else
    echo "work files left in $WORK" >&2
  fi
}
trap 'finish $?' EXIT

git worktree add --force --detach "$WORK/base-src" "$REV" >/dev/null
if [ -n "${BASE_BIN:-}" ]; then
  echo "$REV's queries and config with $BASE_BIN"
  cp "$BASE_BIN" "$WORK/clearsight-base"
else
  echo "building $REV ..."
  (cd "$WORK/base-src" && cargo build --quiet)
  cp "$CARGO_TARGET_DIR/debug/clearsight" "$WORK/clearsight-base"
fi
if [ -n "${NEW_BIN:-}" ]; then
  cp "$NEW_BIN" "$WORK/clearsight-new"
else
  echo "building the working tree ..."
  cargo build --quiet
  cp "$CARGO_TARGET_DIR/debug/clearsight" "$WORK/clearsight-new"
fi

for side in base new; do
  src="$WORK/base-src"
  [ "$side" = new ] && src=.
  mkdir -p "$WORK/$side"
  if [ -n "${DATA:-}" ]; then
    python3 "$src/scripts/bench_project.py" "$DATA" "$WORK/$side" >/dev/null
    "$WORK/clearsight-$side" -C "$WORK/$side" --quiet build >/dev/null
  else
    cp -r "$src/config" "$src/queries" "$WORK/$side/"
    "$WORK/clearsight-$side" -C "$WORK/$side" --quiet demo --events "$EVENTS" --seed 42 >/dev/null
  fi
done

# Every published model, read by the new binary from each warehouse, as sorted CSV.
status=0
published_models() { # warehouse folder -> the names of the models its live run publishes
  python3 -c "import json,sys; print(' '.join(sorted({v['model'] for v in json.load(open(sys.argv[1]))['models'].values()})))" "$1/_published.json"
}
models=$(published_models "$WORK/new/warehouse")
base_models=$(published_models "$WORK/base/warehouse")
declare -A renamed_from renamed_away
for pair in ${RENAMED:-}; do
  renamed_from[${pair#*=}]=${pair%%=*}
  renamed_away[${pair%%=*}]=1
done
for m in $models; do
  b=${renamed_from[$m]:-$m}
  if [ -z "${renamed_from[$m]:-}" ] && { [ -n "${renamed_away[$m]:-}" ] || ! grep -qw "$b" <<<"$base_models"; }; then
    echo "$m: new model, not compared"
    continue
  fi
  "$WORK/clearsight-new" -C "$WORK/base" --quiet query --format csv "SELECT * FROM \"$b\"" > "$WORK/base/$m.csv"
  "$WORK/clearsight-new" -C "$WORK/new" --quiet query --format csv "SELECT * FROM \"$m\"" > "$WORK/new/$m.csv"
  [ "$b" != "$m" ] && echo "$m: compared with $b of $REV"
  if python3 scripts/compare_csv.py "$WORK/base/$m.csv" "$WORK/new/$m.csv" "$m"; then
    [ -n "${KEEP_WORK:-}" ] || rm -f "$WORK/base/$m.csv" "$WORK/new/$m.csv"
  else
    status=1
  fi
done
exit $status
