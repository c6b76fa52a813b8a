"""Peak resident memory of this process, shared by the bench child and the peer scripts (which run under
a peer's interpreter and import this file from their own folder, so it imports nothing but the stdlib)."""

import resource
from pathlib import Path


def peak_mb() -> float:
    """VmHWM belongs to the address space that exec created; getrusage's ru_maxrss would carry over the
    parent's peak from before the exec, which is how Linux counts it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
