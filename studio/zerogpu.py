"""Hugging Face ZeroGPU: the handlers that call the model run inside `@spaces.GPU` there, plainly elsewhere.

A ZeroGPU Space sets `SPACES_ZERO_GPU=true` and attaches a GPU to the process only while a function
decorated with `spaces.GPU(duration=...)` runs, for at most `duration` seconds (shorter requests
get a place in the queue sooner). `duration` may be a function of the task's own arguments, so an
analysis asks for time by its clip's length. The `spaces` package is installed on Spaces, not
here (it is not in requirements.txt); on any other machine, and on a CPU Space (which sets
`SPACE_ID` but not `SPACES_ZERO_GPU`), the handlers are returned unchanged.
"""

import os

ZERO_GPU_VARIABLE = "SPACES_ZERO_GPU"  # set to "true" by Hugging Face on ZeroGPU Spaces only
BASE_SECONDS = 30  # s: any analysis (weights onto the device, the teacher, a short clip)
SECONDS_PER_CLIP_SECOND = 0.5  # s of GPU time per s of clip: ASR, voices and the students (CPU RTF 0.27-0.4)
MAX_SECONDS = 300  # s: the cap asked for (a 600 s clip, the longest one accepted, gets this)
RERUN_SECONDS = 30  # s: an edit or a toggle recomputes a few prompts and the fusion (media outputs cached)
SPLIT_SECONDS = MAX_SECONDS  # s: a whole split through the model


def spaces_module(environ=None):
    """The `spaces` package on a ZeroGPU Space (variable set and package importable), else None."""
    value = (os.environ if environ is None else environ).get(ZERO_GPU_VARIABLE, "")
    if value.strip().lower() not in ("1", "true", "yes"):
        return None
    try:
        import spaces
    except ImportError:
        return None
    return spaces


def on_gpu(task, duration):
    """`task` wrapped by `spaces.GPU(duration=duration)` on a ZeroGPU Space, else `task` itself.

    duration: seconds, or a function of `task`'s arguments that returns them. Generator tasks stay
    generators (`spaces.GPU` supports both), so a streamed analysis streams there too.
    """
    spaces = spaces_module()
    if spaces is None:
        return task
    return spaces.GPU(duration=duration)(task)


def analysis_seconds(clip_seconds) -> int:
    """GPU seconds an analysis of a clip this long asks for: a base plus a share of its length, capped."""
    return int(min(MAX_SECONDS, BASE_SECONDS + SECONDS_PER_CLIP_SECOND * max(0.0, clip_seconds)))
