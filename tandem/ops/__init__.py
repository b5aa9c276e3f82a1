"""Pure estimators on one unbatched, time-major trajectory; callers vmap over environments."""

from tandem.ops.gae import gae_advantages
from tandem.ops.normalize import RunningMeanStd, rms_init, rms_normalize, rms_update
from tandem.ops.td import polyak, td_target
from tandem.ops.vtrace import vtrace

__all__ = ["gae_advantages", "RunningMeanStd", "rms_init", "rms_normalize", "rms_update", "polyak", "td_target",
           "vtrace"]
