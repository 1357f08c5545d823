"""``python -m stream worker -l info --without-web``: run a stream worker (Faust's CLI)."""

import gc
import sys

from stream.app import app

if __name__ == "__main__":
    # Events are acyclic dicts, freed by reference counting as soon as they are sent. The cycle
    # collector's default (a pass every 700 allocations, a few events) keeps rescanning a large
    # heap of long-lived objects (Faust, state caches) for nothing: freeze what start-up built and
    # collect less often. Cycles are still collected, a few times a second under load.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)
    # The flush of one envelope's outputs (a worker thread) needs the GIL for moments while the next
    # envelope is processed: with the default 5 ms switch interval it waited for it so long that
    # the next envelope, done first, had to wait for the flush (seen: 95% of envelopes, ~11% of
    # the time). At 1 ms it is done in time for >90% of them.
    sys.setswitchinterval(0.001)
    app.main()
