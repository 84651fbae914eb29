"""ddtrack's Dash views, served by Airflow's api-server under ``/ddtrack``.

Import :mod:`ddtrack.views.asgi` only: it is cheap, and builds the Dash app on first use.
"""
