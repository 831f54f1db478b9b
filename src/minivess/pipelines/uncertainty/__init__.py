"""Uncertainty of vessel predictions: calibration metrics, reliability diagrams, temperature scaling and more."""
