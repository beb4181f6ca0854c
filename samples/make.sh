#!/usr/bin/env bash
# Remake the parts of samples/ that the project generates (see README.md):
#   generated/reports   `tillpipe gen` with the options in generated/gen.args
#   archives/reports    a zip and a tar.gz holding two of generated/'s terminal-days
# and, with --expected, every case's expected/ outputs from `tillpipe run`.
#
# The hand-written cases' reports are their own source and are never touched.
# New expected outputs change the project's reference: read the diff against the
# legacy rules (the domain reference's "The legacy combine rules") before committing.
#
# Usage: samples/make.sh [--expected]   (TILLPIPE=path/to/tillpipe, default
# build/test/tillpipe; needs zip, tar and gzip)
set -euo pipefail
cd "$(dirname "$0")"
tp=${TILLPIPE:-../build/test/tillpipe}
[ -x "$tp" ] || { echo "make.sh: no tillpipe at $tp (build first, or set TILLPIPE)" >&2; exit 1; }
tp=$(cd "$(dirname "$tp")" && pwd)/$(basename "$tp")

# 1. The generated case.
read -r -a gen_args < generated/gen.args
rm -rf generated/reports
"$tp" gen "${gen_args[@]}" --out generated/reports >/dev/null

# 2. The archives: MAGS/1 in a zip (inside a folder), BETA/1 in a tar.gz.  Fixed
# times, modes and owners so the same files give the same bytes.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/day" archives/reports
rm -f archives/reports/*
cp generated/reports/a_MAGS_1_*_2026-02-09_*.csv "$work/day/"
chmod 644 "$work"/day/*
TZ=UTC touch -d '2026-02-09 21:00:00' "$work"/day/*
(cd "$work" && TZ=UTC zip -q -X -D -9 bundle.zip day/*)
mv "$work/bundle.zip" archives/reports/a_MAGS_1_bundle_2026-02-09.zip
(cd generated/reports && ls a_BETA_1_*_2026-02-09_*.csv) |
  tar -C generated/reports --sort=name --mtime='2026-02-09 20:00:00Z' --owner=0 --group=0 \
      --numeric-owner --mode='a=r,u+w' --format=ustar -cf - -T - |
  gzip -n -9 > archives/reports/a_BETA_1_bundle_2026-02-09.tar.gz

# 3. Expected outputs (only when asked).  The report's plugin hashes depend on
# the build, so they are left out (the test leaves them out too).
if [ "${1:-}" = --expected ]; then
  for reports in */reports; do
    c=${reports%/reports}
    mkdir -p "$c/expected"
    "$tp" run --reports "$reports" --out "$c/expected/records.record2025.csv" --quiet
    "$tp" run --reports "$reports" --out "$c/expected/records.jsonl" --format jsonl --quiet
    "$tp" run --reports "$reports" --out - --report "$work/report.json" --quiet >/dev/null
    sed -E '/^ *"sha256": "[0-9a-f]{64}",?$/d' "$work/report.json" > "$c/expected/report.json"
  done
fi
