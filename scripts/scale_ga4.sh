#!/usr/bin/env bash
# Makes a bigger benchmark folder out of a ../shared/bench/gen_extracts.py folder, without the
# generator's hours: every GA4 day file COPIES times, gzip-compressed (as GA4 exports land in
# Cloud Storage), each copy a different population of users.
#
#   scripts/scale_ga4.sh SRC_DIR OUT_DIR COPIES
#
# Copy 0 is the day file as generated (its users are the ones the CRM leads point at); copy k
# prefixes every user_pseudo_id, user_id and gclid with "k<k>." so its sessions are new
# sessions of unknown visitors (no lead matches them): the web side of the build grows COPIES
# times, the CRM and spend stay as generated. Out of a 10M-event folder, COPIES=10 gives 100M
# events, about 130 GB as plain JSON, about a tenth of that on disk. salesforce/, ads/ and
# oracle_config.json are linked, not copied. Two files are compressed at a time (one per core).
set -euo pipefail
SRC=$(cd "$1" && pwd)
OUT="$2"
COPIES="$3"
mkdir -p "$OUT/ga4"
OUT=$(cd "$OUT" && pwd)
for item in salesforce hubspot ads oracle_config.json bad_rows.json; do
  [ -e "$SRC/$item" ] && ln -sfn "$SRC/$item" "$OUT/$item"
done
copy() { # FILE K
  local day
  day=$(basename "$1" .json)
  if [ "$2" = 0 ]; then
    gzip -1 -c "$1" > "$OUT/ga4/${day}_0.json.gz.tmp"
  else
    sed -e "s/\"user_pseudo_id\":\"/&k$2./" -e "s/\"user_id\":\"/&k$2./" \
        -e "s/gclid=/&k$2./g" -e "s/\"gclid\":\"/&k$2./" "$1" |
      gzip -1 > "$OUT/ga4/${day}_$2.json.gz.tmp"
  fi
  mv "$OUT/ga4/${day}_$2.json.gz.tmp" "$OUT/ga4/${day}_$2.json.gz"
}
export -f copy
export OUT
for f in "$SRC"/ga4/events_*.json; do
  for k in $(seq 0 $((COPIES - 1))); do
    [ -e "$OUT/ga4/$(basename "$f" .json)_$k.json.gz" ] || echo "$f $k"
  done
done | xargs -P 2 -n 2 bash -c 'copy "$0" "$1"'
echo "$(find "$OUT/ga4" -name '*.json.gz' | wc -l) files, $(du -sh "$OUT/ga4" | cut -f1) in $OUT/ga4"
