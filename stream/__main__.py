"""``python -m stream worker -l info --without-web``: run a stream worker (Faust's CLI)."""

from core.runtime import tune_worker_process
from stream.app import app

if __name__ == "__main__":
    tune_worker_process()
    app.main()
