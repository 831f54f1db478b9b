#!/usr/bin/env bash
# `make demo`: the main job end to end on embedded defaults (no keys, no network):
# the agent synthesises data → trains a small SegResNet → shows the leaderboard; then the pipeline CLI
# evaluates the run on the test split.
set -euo pipefail
MINIVESS=".venv/bin/minivess"
export MINIVESS_HOME="${MINIVESS_HOME:-.minivess}"
if [ ! -d "$MINIVESS_HOME/data/synthetic/raw" ]; then
  $MINIVESS ask "generate 12 synthetic volumes of 96x96x24 with seed 0" --yes
fi
$MINIVESS data info "$MINIVESS_HOME/data/synthetic" --no-mip
$MINIVESS ask "train a segresnet for 2 epochs on the synthetic data, then show the leaderboard by clDice" --yes
$MINIVESS evaluate last --split test
echo
echo "Next: '$MINIVESS chat' to keep going, 'minivess runs leaderboard' for history,"
echo "and '.venv/bin/mlflow ui --backend-store-uri sqlite:///$MINIVESS_HOME/mlflow.db' for the MLflow UI."
