"""``python -m stream worker -l info --without-web``: run a stream worker (Faust's CLI)."""

from stream.app import app

if __name__ == "__main__":
    app.main()
