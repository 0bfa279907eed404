"""``python -m pgbench``: the same as the ``pgbench`` command."""

from .cli import main

if __name__ == "__main__":
    main()
