"""Model search: plan a space from past runs, run trials on Ray Tune with Optuna's TPE, report, promote."""
