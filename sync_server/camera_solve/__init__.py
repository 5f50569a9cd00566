"""Camera from one picture (issue 15): bpy-free, numpy + OpenCV, no model weights.

solve_picture / solve_file → CameraSolution (focal length, rotation, horizon, vanishing points, the lines
used, the case, refusals and the fallback). Modules: lines (LSD segments), residuals (the angle measure),
vanishing (Manhattan hypotheses and scores), calibrate (joint focal/rotation/distortion refinement),
orientation (scene axes, pitch/roll/yaw, horizon), scale (camera height), result (the model), solve (the
whole).
"""

from .result import SOLVER_VERSION, CameraSolution
from .solve import SolveOptions, solve_file, solve_picture

__all__ = ["SOLVER_VERSION", "CameraSolution", "SolveOptions", "solve_file", "solve_picture"]
