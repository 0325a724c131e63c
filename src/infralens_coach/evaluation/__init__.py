"""Grader evaluation: agreement with human grades (metrics), isotonic calibration, robustness probes.

Used by `infralens-coach eval` (cli_eval.py); numpy only.
"""

from .calibrate import CalibratedGrader, CalibrationMap, calibration_for
from .runner import evaluate

__all__ = ["CalibratedGrader", "CalibrationMap", "calibration_for", "evaluate"]
