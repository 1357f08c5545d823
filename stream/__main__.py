"""``python -m stream worker -l info --without-web``: run a stream worker (Faust's CLI)."""

import gc

from stream.app import app

if __name__ == "__main__":
    # Events are acyclic dicts, freed by reference counting as soon as they are sent. The cycle
    # collector's default (a pass every 700 allocations, a few events) keeps rescanning a large
    # heap of long-lived objects (Faust, state caches) for nothing: freeze what start-up built and
    # collect less often. Cycles are still collected, a few times a second under load.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)
    app.main()
