#!/usr/bin/env bash
# `make demo`: the most complete path that exists today, on embedded defaults (no keys, no network).
# synthesise data → inspect it → train a small SegResNet (2 epochs) → evaluate it on the test split.
set -euo pipefail
MINIVESS=".venv/bin/minivess"
export MINIVESS_HOME="${MINIVESS_HOME:-.minivess}"
DATA="$MINIVESS_HOME/data/synthetic"
if [ ! -d "$DATA/raw" ]; then
  $MINIVESS data synth --out "$DATA" --n 12 --seed 0
fi
$MINIVESS data info "$DATA"
$MINIVESS train --config segresnet_tiny --set data.dir="$DATA"
$MINIVESS evaluate last --split test
echo "MLflow store: $MINIVESS_HOME/mlflow.db — browse it with: .venv/bin/mlflow ui --backend-store-uri sqlite:///$MINIVESS_HOME/mlflow.db"
