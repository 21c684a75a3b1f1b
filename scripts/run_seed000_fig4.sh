#!/usr/bin/env bash
# Long run of seed 000 Fig. 4 (twin-assisted SAC on Hopper-v5): 3 variants x SEEDS x EPOCHS epochs
# of 1000 steps, JOBS trainings at a time (worker processes, one torch thread each), then the
# figure and claims. A thin wrapper of
#
#   ior reproduce seed000-fig4 --out OUT --seeds SEEDS --workers JOBS --set epochs=EPOCHS
#
#   scripts/run_seed000_fig4.sh                       # 50 epochs, seeds 0 1, 2 in parallel
#   EPOCHS=50 SEEDS="0-4" JOBS=2 scripts/run_seed000_fig4.sh
#   RAY=auto scripts/run_seed000_fig4.sh              # on the Ray cluster of this machine
#
# Writes results/seed000-fig4/ (OUT): runs/<variant>/seed<N>/{epochs.csv,checkpoint.pt,
# sweep_result.json,...}, command.txt (this command and its settings), machine.json, claims.txt
# and seed000-fig4.{json,csv,png,config.yaml} (over the seeds asked for).
# Interrupted? Run the same command again: finished runs are skipped (sweep_result.json), the
# others resume from their last checkpoint. More seeds later: SEEDS="0-4" runs only the new ones.
# Measured on the 2-core reference VM: about 30 steps/s per training, i.e. ~0.5 h per 50-epoch
# run and ~1.6-2 h for the default 6 runs two at a time (benchmarks/bench_twin.py estimates it).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/seed000-fig4}
EPOCHS=${EPOCHS:-50}
SEEDS=${SEEDS:-"0 1"}
JOBS=${JOBS:-2}
RAY=${RAY:-}       # a Ray cluster's address ('auto' or HOST:PORT): JOBS is then ignored
PY=${PY:-.venv/bin/python}
EXTRA=${EXTRA:-}   # extra `ior reproduce` options, e.g. EXTRA="--set gate.horizon_steps=3"
if [ -n "${VARIANTS:-}" ]; then
  echo "VARIANTS is no longer supported: every run of seed000-fig4 trains sac, twin and twin_gan" >&2
  exit 2
fi

cmd=("$PY" -m ior_ros.cli reproduce seed000-fig4 --out "$OUT" --seeds "$SEEDS"
     --set "epochs=$EPOCHS" --no-progress)
if [ -n "$RAY" ]; then cmd+=(--ray-address "$RAY"); else cmd+=(--workers "$JOBS"); fi
# shellcheck disable=SC2206  # EXTRA is split into options on purpose
cmd+=($EXTRA)

mkdir -p "$OUT"
{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "OUT=$OUT EPOCHS=$EPOCHS SEEDS=\"$SEEDS\" JOBS=$JOBS RAY=\"$RAY\" EXTRA=\"$EXTRA\" $0"
  echo "OMP_NUM_THREADS=1 ${cmd[*]}"
} > "$OUT/command.txt"
"$PY" -c 'import json, sys; from ior_ros.experiments.contract import machine_info; json.dump(machine_info(), sys.stdout, indent=2)' > "$OUT/machine.json"
OMP_NUM_THREADS=1 "${cmd[@]}" | tee "$OUT/claims.txt"
