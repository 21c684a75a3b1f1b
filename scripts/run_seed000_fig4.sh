#!/usr/bin/env bash
# Long run of seed 000 Fig. 4 (twin-assisted SAC on Hopper-v5): 3 variants x SEEDS x EPOCHS epochs
# of 1000 steps, JOBS trainings at a time (one torch thread each), then the figure and claims.
#
#   scripts/run_seed000_fig4.sh                       # 50 epochs, seeds 0 1, 2 in parallel
#   EPOCHS=120 SEEDS="0 1 2" JOBS=3 scripts/run_seed000_fig4.sh
#
# Writes results/seed000-fig4/ (OUT): runs/<variant>/seed<N>/{epochs.csv,checkpoint.pt,...},
# runs/<variant>/seed<N>.log, command.txt (this command and its settings), machine.json, and
# seed000-fig4.{json,csv,png,config.yaml} from `ior reproduce seed000-fig4 --from OUT/runs`.
# Interrupted? Run the same command again: every training resumes from its last checkpoint.
# Measured on the 2-core reference VM: about 30 steps/s per training, i.e. ~0.5 h per 50-epoch
# run and ~1.6-2 h for the default 6 runs two at a time (benchmarks/bench_twin.py estimates it).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/seed000-fig4}
EPOCHS=${EPOCHS:-50}
SEEDS=${SEEDS:-"0 1"}
JOBS=${JOBS:-2}
VARIANTS=${VARIANTS:-"twin_gan twin sac"}
PY=${PY:-.venv/bin/python}
EXTRA=${EXTRA:-}   # extra `ior train twin` options, e.g. EXTRA="--set gate.horizon_steps=3"

mkdir -p "$OUT/runs"
{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "OUT=$OUT EPOCHS=$EPOCHS SEEDS=\"$SEEDS\" JOBS=$JOBS VARIANTS=\"$VARIANTS\" EXTRA=\"$EXTRA\" $0"
  for v in $VARIANTS; do for s in $SEEDS; do
    echo "OMP_NUM_THREADS=1 $PY -m ior_ros.cli train twin --env Hopper-v5 --variant $v --seed $s" \
         "--epochs $EPOCHS --out $OUT/runs/$v/seed$s --resume --no-progress $EXTRA"
  done; done
  echo "$PY -m ior_ros.cli reproduce seed000-fig4 --from $OUT/runs --out $OUT"
} > "$OUT/command.txt"
"$PY" -c 'import json, sys; from ior_ros.experiments.contract import machine_info; json.dump(machine_info(), sys.stdout, indent=2)' > "$OUT/machine.json"

jobs_list=()
for v in $VARIANTS; do for s in $SEEDS; do jobs_list+=("$v $s"); done; done
printf '%s\n' "${jobs_list[@]}" | xargs -P "$JOBS" -L 1 bash -c '
  v=$0; s=$1
  mkdir -p "'"$OUT"'/runs/$v"
  echo "start $v seed $s $(date -u +%H:%M:%S)"
  OMP_NUM_THREADS=1 "'"$PY"'" -m ior_ros.cli train twin --env Hopper-v5 --variant "$v" --seed "$s" \
      --epochs "'"$EPOCHS"'" --out "'"$OUT"'/runs/$v/seed$s" --resume --no-progress '"$EXTRA"' \
      > "'"$OUT"'/runs/$v/seed$s.log" 2>&1
  echo "done  $v seed $s $(date -u +%H:%M:%S) (rc $?)"
'
OMP_NUM_THREADS=1 "$PY" -m ior_ros.cli reproduce seed000-fig4 --from "$OUT/runs" --out "$OUT" \
    | tee "$OUT/claims.txt"
