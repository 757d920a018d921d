#!/usr/bin/env bash
# kdlab and its PyTorch twins side by side on this machine: alternating runs (kdlab, then
# PyTorch, PAIRS times) so both see the same conditions, then each figure's median.
#   cargo build --release && bench/side_by_side.sh [PAIRS]   (default 3; python3 with torch, numpy)
# Workloads: `kdlab bench` mlp, cnn and teacher against bench/torch_kd_bench.py, lm,
# lm_teacher and lm_on_policy against bench/torch_lm.py (2 threads), and the kd preset end to end
# (`kdlab run kd --no-cache`, process wall time) against bench/torch_kd_preset.py.
# LM_ONLY=1 runs the language-model pairs only (a few minutes instead of ~15).
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-3}
kdlab=${KDLAB:-${CARGO_TARGET_DIR:-target}/release/kdlab}
data=${MNIST:-assets/mnist_5k.csv.gz}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export KDLAB_CACHE_DIR="$scratch/cache"
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
wall() { /usr/bin/time -f "%e" "$@" 2>&1 >/dev/null | tail -1; }
lm_only=${LM_ONLY:-}
workloads="mlp cnn teacher lm lm_teacher lm_on_policy"
[ -n "$lm_only" ] && workloads="lm lm_teacher lm_on_policy"
record() { awk -v f="$scratch/$1" '/steps\/s/ {print $3 >> (f "." $1)}'; }
for pair in $(seq "$pairs"); do
  if [ -n "$lm_only" ]; then
    for w in lm lm-teacher lm-on-policy; do "$kdlab" bench --device cpu "$w" | record kdlab; done
  else
    "$kdlab" bench --device cpu | record kdlab
    python3 bench/torch_kd_bench.py 2 | record torch
  fi
  python3 bench/torch_lm.py 2 | record torch
  if [ -z "$lm_only" ]; then
    wall "$kdlab" run kd --device cpu --no-cache --out "$scratch/run-$pair" >> "$scratch/kdlab.preset"
    wall python3 bench/torch_kd_preset.py "$data" >> "$scratch/torch.preset"
  fi
  echo "pair $pair of $pairs done" >&2
done
printf '%-10s %12s %12s %8s\n' workload kdlab pytorch ratio
for w in $workloads; do
  k=$(median < "$scratch/kdlab.$w"); t=$(median < "$scratch/torch.$w")
  printf '%-10s %9s/s %9s/s %7.2fx\n' "$w" "$k" "$t" "$(echo "$k / $t" | bc -l)"
done
if [ -z "$lm_only" ]; then
  k=$(median < "$scratch/kdlab.preset"); t=$(median < "$scratch/torch.preset")
  printf '%-10s %10ss %10ss %7.2fx (time)\n' "kd preset" "$k" "$t" "$(echo "$k / $t" | bc -l)"
fi
echo "all runs (steps/s; preset in s):"
for f in "$scratch"/kdlab.* "$scratch"/torch.*; do echo "  $(basename "$f"): $(tr '\n' ' ' < "$f")"; done
