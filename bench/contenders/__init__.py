"""The contenders of ``bench/run.py``: one module per way of doing the migration (or the dashboard reads).

Each contender module runs in its own process (``python -m contenders.<name> ...`` with ``bench/`` on the path), so
its peak RSS is measured alone; it prints one JSON object (its own timings and counts) on stdout.
"""
