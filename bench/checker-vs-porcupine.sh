#!/usr/bin/env bash
# quorate's linearizability checker next to Porcupine's, on the same histories, in one run.
#
#   npm run build && bash bench/checker-vs-porcupine.sh PORCUPINE_CHECKOUT [RUNS]
#
# PORCUPINE_CHECKOUT is a checkout of https://github.com/anishathalye/porcupine: its
# test_data/jepsen/etcd_*.log are Jepsen's published etcd register histories (about 100 files),
# the ones Porcupine's own tests check. Nothing of Porcupine is kept in this repository.
#
# Each run starts each checker once as a whole process over every file (start-up, reading,
# parsing and checking included), in turns (Porcupine, quorate, [baseline]), RUNS times
# (default 5): wall and CPU (user + system) seconds per run, then their medians and the ratio.
# The verdicts of the first run are printed per file with whether the two agree.
#
# Porcupine runs through bench/porcupine/main.go: its checker (CheckEvents) with the etcd model
# and log reading of its own test, built against the module version pinned in
# bench/porcupine/go.mod. Offline (no module proxy), it is built from the checkout instead, and
# says so. Without `go` it prints how to install it and times quorate alone. It installs nothing.
#
# QUORATE_BASELINE=path/to/other/dist/src/cli/main.js adds a third column: another build of
# quorate (say, main before a change), run in the same turns, for before/after in one run.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || "$1" == -h || "$1" == --help ]]; then
  sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
CHECKOUT=$(cd "$1" && pwd)
RUNS=${2:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
QUORATE="$ROOT/dist/src/cli/main.js"
BASELINE=${QUORATE_BASELINE:-}

shopt -s nullglob
FILES=("$CHECKOUT"/test_data/jepsen/etcd_*.log)
shopt -u nullglob
if [[ ${#FILES[@]} -eq 0 ]]; then
  echo "no test_data/jepsen/etcd_*.log under $CHECKOUT: give a checkout of github.com/anishathalye/porcupine" >&2
  exit 2
fi
if [[ ! -f "$QUORATE" ]]; then
  echo "$QUORATE is missing: run npm run build first" >&2
  exit 2
fi
if [[ -n "$BASELINE" && ! -f "$BASELINE" ]]; then
  echo "QUORATE_BASELINE=$BASELINE is not a file" >&2
  exit 2
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# ---- Porcupine: build the small main, or say why not ----
PORCUPINE=""
if ! command -v go >/dev/null; then
  echo "go is not installed, so Porcupine is not run; to compare, install it (Debian: apt-get install golang-go)"
  echo "and run this again. Timing quorate alone."
else
  echo "go: $(go version)"
  if (cd "$HERE/porcupine" && go build -o "$WORK/porcupine-etcd" . ) 2>"$WORK/go-build.log"; then
    echo "porcupine: $(sed -n 's/^require //p' "$HERE/porcupine/go.mod") (pinned in bench/porcupine/go.mod)"
    PORCUPINE="$WORK/porcupine-etcd"
  else
    # Offline: the pinned module cannot be fetched. Build against the checkout itself.
    sed "\$a replace github.com/anishathalye/porcupine => $CHECKOUT" "$HERE/porcupine/go.mod" > "$WORK/go.mod"
    if (cd "$HERE/porcupine" && go build -modfile="$WORK/go.mod" -o "$WORK/porcupine-etcd" . ) 2>>"$WORK/go-build.log"; then
      echo "porcupine: built from $CHECKOUT (the pinned module could not be fetched: $(grep -m1 -o 'dial tcp.*\|no such host\|connection refused' "$WORK/go-build.log" || echo 'see go build'))"
      PORCUPINE="$WORK/porcupine-etcd"
    else
      echo "porcupine: go build failed, timing quorate alone:" >&2
      sed 's/^/  /' "$WORK/go-build.log" >&2
    fi
  fi
fi
echo "quorate: $QUORATE ($(node --version))"
[[ -n "$BASELINE" ]] && echo "baseline: $BASELINE"
echo "histories: ${#FILES[@]} files from $CHECKOUT/test_data/jepsen"
echo "machine: $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# ---- Runs, in turns ----
NAMES=()
[[ -n "$PORCUPINE" ]] && NAMES+=(porcupine)
NAMES+=(quorate)
[[ -n "$BASELINE" ]] && NAMES+=(baseline)

# run NAME OUTFILE: one whole-process run; appends "wall cpu" to $WORK/NAME.times.
run() {
  local name=$1 out=$2 cmd
  case $name in
    porcupine) cmd=("$PORCUPINE" "${FILES[@]}") ;;
    quorate) cmd=(node "$QUORATE" check "${FILES[@]}") ;;
    baseline) cmd=(node "$BASELINE" check "${FILES[@]}") ;;
  esac
  local TIMEFORMAT='%R %U %S'
  local t
  # The verdict's exit code (1: a history is not linearizable, 3: a file without operations) is expected.
  t=$( { time "${cmd[@]}" >"$out" 2>>"$WORK/$name.stderr" || true; } 2>&1 )
  read -r wall user sys <<<"$t"
  echo "$wall $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }')" >>"$WORK/$name.times"
}

printf '%-4s' run
for n in "${NAMES[@]}"; do printf '  %-22s' "$n wall/cpu s"; done
echo
for ((r = 1; r <= RUNS; r++)); do
  # Rotate who goes first, so that neither always runs on a warmer (or busier) machine.
  order=("${NAMES[@]:$(( (r - 1) % ${#NAMES[@]} ))}" "${NAMES[@]:0:$(( (r - 1) % ${#NAMES[@]} ))}")
  for n in "${order[@]}"; do
    out="$WORK/$n.out"
    [[ $r -eq 1 ]] && out="$WORK/$n.verdicts"
    run "$n" "$out"
  done
  printf '%-4s' "$r"
  for n in "${NAMES[@]}"; do printf '  %-22s' "$(tail -1 "$WORK/$n.times" | awk '{ printf "%.2f / %.2f", $1, $2 }')"; done
  echo
done

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
declare -A WALL CPU
printf '%-4s' med
for n in "${NAMES[@]}"; do
  WALL[$n]=$(awk '{ print $1 }' "$WORK/$n.times" | median)
  CPU[$n]=$(awk '{ print $2 }' "$WORK/$n.times" | median)
  printf '  %-22s' "$(printf '%.2f / %.2f' "${WALL[$n]}" "${CPU[$n]}")"
done
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n "$PORCUPINE" ]]; then
  for n in quorate baseline; do
    [[ -n "${WALL[$n]:-}" ]] || continue
    awk -v n="$n" -v qw="${WALL[$n]}" -v qc="${CPU[$n]}" -v pw="${WALL[porcupine]}" -v pc="${CPU[porcupine]}" \
      'BEGIN { printf "%s / porcupine (medians): wall %.2f, cpu %.2f (below 1: quorate is faster)\n", n, qw / pw, qc / pc }'
  done
fi
if [[ -n "$BASELINE" ]]; then
  awk -v qw="${WALL[quorate]}" -v qc="${CPU[quorate]}" -v bw="${WALL[baseline]}" -v bc="${CPU[baseline]}" \
    'BEGIN { printf "quorate / baseline (medians): wall %.2f, cpu %.2f\n", qw / bw, qc / bc }'
fi
echo

# ---- Verdicts, first run ----
verdicts() { sed -n 's/^\(.*\): \(linearizable\|not linearizable\|unknown\|bad input\)$/\1\t\2/p' "$1"; }
verdicts "$WORK/quorate.verdicts" >"$WORK/q.tsv"
[[ -n "$BASELINE" ]] && verdicts "$WORK/baseline.verdicts" >"$WORK/b.tsv"
[[ -n "$PORCUPINE" ]] && verdicts "$WORK/porcupine.verdicts" >"$WORK/p.tsv"
agree=0 differ=0 empty=0
printf '%-14s %-18s %-18s %s\n' file porcupine quorate agree
for f in "${FILES[@]}"; do
  q=$(awk -F'\t' -v f="$f" '$1 == f { print $2 }' "$WORK/q.tsv")
  p=-
  [[ -n "$PORCUPINE" ]] && p=$(awk -F'\t' -v f="$f" '$1 == f { print $2 }' "$WORK/p.tsv")
  if [[ -n "$BASELINE" ]]; then
    b=$(awk -F'\t' -v f="$f" '$1 == f { print $2 }' "$WORK/b.tsv")
    [[ "$b" == "$q" ]] || echo "  $(basename "$f"): baseline says '$b', quorate '$q'"
  fi
  if [[ ! -s "$f" ]]; then
    # An empty file: Porcupine checks an empty history (linearizable); quorate refuses it as bad input.
    mark="n/a: empty file"
    empty=$((empty + 1))
  elif [[ -z "$PORCUPINE" ]]; then
    mark=-
  elif [[ "$p" == "$q" ]]; then
    mark=yes
    agree=$((agree + 1))
  else
    mark=NO
    differ=$((differ + 1))
  fi
  printf '%-14s %-18s %-18s %s\n' "$(basename "$f")" "${p:-?}" "${q:-?}" "$mark"
done
echo
[[ -n "$PORCUPINE" ]] && echo "verdicts: agree on $agree files, differ on $differ; $empty empty file(s) not compared"
echo "quorate: $(grep -c $'\tlinearizable$' "$WORK/q.tsv") linearizable, $(grep -c $'\tnot linearizable$' "$WORK/q.tsv") not linearizable, $(grep -c $'\tunknown$' "$WORK/q.tsv") unknown"
[[ $differ -eq 0 ]]
