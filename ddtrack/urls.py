"""Where ddtrack's pages are served: the mount path and Airflow's base path.

The worker links to its try's page from the task's asset events
(:mod:`ddtrack.integrations.asset_events`), the plugin registers the pages with Airflow's UI,
and the views build their links: all of them read it here, a module that imports nothing of
the views, so no layer reaches up to another for a URL.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from ddtrack import conf

MOUNT_PATH = "/ddtrack"


@functools.lru_cache(maxsize=1)
def base_path() -> str:
    """The path part of ``[api] base_url`` ('' or e.g. '/airflow'), where Airflow is served."""
    return urlsplit(conf.api_base_url()).path.rstrip("/")


def page_path(page: str, query: str = "") -> str:
    """The path of one of ddtrack's pages (``query`` already encoded), under Airflow's base path."""
    return f"{base_path()}{MOUNT_PATH}/{page}" + (f"?{query}" if query else "")
