"""``python -m agent_audit.stream worker -l info --without-web``: run a stream worker (Faust's CLI)."""

from agent_audit.core.runtime import tune_worker_process
from agent_audit.stream.app import app

if __name__ == "__main__":
    tune_worker_process()
    app.main()
