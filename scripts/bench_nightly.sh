#!/usr/bin/env bash
# The nightly build, measured: called by `BENCH_NIGHTLY=1 BENCH_DATA=DIR scripts/bench.sh` after
# the full build of DIR (its mart in WORK/pipeline_metrics.csv, its time in WORK/build.time).
#
#   scripts/bench_nightly.sh WORK DATA BIN
#
# Night one is DIR without its last GA4 day and with only the first Salesforce snapshot; night
# two adds that day and the second snapshot (the refreshed CRM). Both are folders of symbolic
# links beside the real files. Night two's `clearsight build` is timed and its pipeline_metrics
# compared key by key with the full build's: a nightly build must give the same mart.
set -euo pipefail
WORK="$1" DATA="$2" BIN="$3"
NIGHT="$WORK/nightly-data"
rm -rf "$NIGHT" "$WORK/nightly"
mkdir -p "$NIGHT/ga4" "$NIGHT/salesforce"
for f in "$DATA"/*; do
  case "$(basename "$f")" in ga4|salesforce) ;; *) ln -s "$f" "$NIGHT/" ;; esac
done
LAST_DAY=$(ls "$DATA/ga4" | sort | tail -1)
for f in "$DATA"/ga4/*; do
  [ "$(basename "$f")" = "$LAST_DAY" ] || ln -s "$f" "$NIGHT/ga4/"
done
# Each kind's earliest snapshot on night one, the rest (the refresh) on night two.
FIRST_SNAPSHOTS=$(ls "$DATA/salesforce" | sort | awk -F_ '!seen[$1]++')
for name in $FIRST_SNAPSHOTS; do ln -s "$DATA/salesforce/$name" "$NIGHT/salesforce/"; done

python3 scripts/bench_project.py "$NIGHT" "$WORK/nightly" >/dev/null
"$BIN" -C "$WORK/nightly" --quiet --json build > "$WORK/night1.out"
ln -s "$DATA/ga4/$LAST_DAY" "$NIGHT/ga4/"
for f in "$DATA"/salesforce/*; do
  [ -e "$NIGHT/salesforce/$(basename "$f")" ] || ln -s "$f" "$NIGHT/salesforce/"
done
/usr/bin/time -f "%e %M" -o "$WORK/night2.time" \
  "$BIN" -C "$WORK/nightly" --quiet --json build > "$WORK/night2.out"
read -r n_s n_kb < "$WORK/night2.time"
read -r f_s _ < "$WORK/build.time"
python3 - "$WORK/night2.out" "$n_s" "$n_kb" "$f_s" "$LAST_DAY" <<'PY'
import json, sys
path, n_s, n_kb, f_s, day = sys.argv[1], *map(float, sys.argv[2:5]), sys.argv[5]
text, docs, at = open(path).read(), [], 0
while text[at:].strip():
    at += len(text[at:]) - len(text[at:].lstrip())
    doc, at = json.JSONDecoder().raw_decode(text, at)
    docs.append(doc)
load = next(d for d in docs if "files" in d)
nodes = next(d["nodes"] for d in docs if "nodes" in d)
loaded = [f for f in load["files"] if not f["skipped"]]
print(f"nightly (+{day}, refreshed CRM): {n_s:.1f}s (peak {n_kb / 1024:.0f} MB) = "
      f"{100 * n_s / f_s:.0f}% of the full build's {f_s:.1f}s; loaded {len(loaded)} files in "
      f"{load['seconds']:.1f}s, models {sum(n['seconds'] for n in nodes):.1f}s")
for n in sorted(nodes, key=lambda n: -n["seconds"])[:6]:
    note = f"  ({n['message']})" if n.get("message") else ""
    print(f"   {n['name']:<28} {n['seconds']:7.2f}s{note}")
PY
"$BIN" -C "$WORK/nightly" --quiet query --format csv "SELECT * FROM pipeline_metrics" > "$WORK/nightly_metrics.csv"
echo -n "nightly mart vs full build: "
python3 scripts/compare_duckdb_mart.py "$WORK/pipeline_metrics.csv" "$WORK/nightly_metrics.csv"
