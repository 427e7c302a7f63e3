#!/usr/bin/env bash
# One `clearsight build` under a memory limit, on a folder too big for DuckDB's side of
# scripts/bench.sh (the 100M-event folder of scripts/scale_ga4.sh, gzip days): time, peak RSS
# (/usr/bin/time) and spill volume (the spill folder's size, sampled every second; DataFusion
# deletes a spill file when its operator has read it back, so the peak is what was on disk at
# once, and the sum of the files seen is the volume written).
#
#   scripts/bench_spill.sh DATA_DIR WORK_DIR [MEMORY_LIMIT]     (default 4G)
#
# CLEARSIGHT_BIN as in scripts/bench.sh. The published mart is left in WORK_DIR/warehouse.
# BENCH_KEEP_WAREHOUSE=1 keeps WORK_DIR's warehouse: files loaded before are skipped (same
# content hash), so the build is its models only.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$(cd "$1" && pwd)
WORK="$2"
MEMORY="${3:-4G}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clearsight-target}"
BIN="${CLEARSIGHT_BIN:-$CARGO_TARGET_DIR/release/clearsight}"
python3 scripts/bench_project.py "$DATA" "$WORK" >/dev/null
WORK=$(cd "$WORK" && pwd)
[ -n "${BENCH_KEEP_WAREHOUSE:-}" ] || rm -rf "$WORK/warehouse"
rm -rf "$WORK/spill"
mkdir -p "$WORK/spill"
echo "GA4 files: $(du -sm "$DATA/ga4" | cut -f1) MB in $DATA/ga4; memory limit $MEMORY"
/usr/bin/time -f "%e %M" -o "$WORK/build.time" \
  "$BIN" -C "$WORK" --json --memory-limit "$MEMORY" --spill-dir "$WORK/spill" build \
  > "$WORK/build.out" 2> "$WORK/build.err" &
BUILD=$!
: > "$WORK/spill.seen"
peak=0
while kill -0 "$BUILD" 2>/dev/null; do
  now=$(du -sm "$WORK/spill" 2>/dev/null | cut -f1 || echo 0)
  [ "${now:-0}" -gt "$peak" ] && peak=$now
  find "$WORK/spill" -type f -printf '%p %s\n' 2>/dev/null >> "$WORK/spill.seen" || true
  sleep 1
done
status=0
wait "$BUILD" || status=$?
read -r secs kb < <(tail -n1 "$WORK/build.time")  # after "Command exited with non-zero status N"
written=$(sort -k1,1 -k2,2n "$WORK/spill.seen" | awk '{last[$1]=$2} END {s=0; for (f in last) s+=last[f]; print int(s/1048576)}')
echo "build: exit $status, ${secs}s, peak RSS $((kb / 1024)) MB, spill peak ${peak} MB on disk, ${written} MB written (files sampled each second)"
python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
text, docs, at = open(f"{work}/build.out").read(), [], 0
while text[at:].strip():
    at += len(text[at:]) - len(text[at:].lstrip())
    doc, at = json.JSONDecoder().raw_decode(text, at)
    docs.append(doc)
load = next((d for d in docs if "files" in d), None)
run = next((d for d in docs if "nodes" in d), None)
if load:
    rows = sum(f["rows_loaded"] for f in load["files"] if f["table"] == "ga_events")
    print(f"load: {load['seconds']:.1f}s, {rows:,} GA events")
if run:
    total = sum(n["seconds"] for n in run["nodes"])
    print(f"models: {total:.1f}s, published={run.get('published')}")
    for n in sorted(run["nodes"], key=lambda n: -n["seconds"])[:6]:
        print(f"   {n['name']:<28} {n['seconds']:7.2f}s {100 * n['seconds'] / total:4.0f}%  {n['rows'] or 0:>11} rows")
PY
exit "$status"
