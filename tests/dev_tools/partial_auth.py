"""An auth manager that lets one user read only some DAGs, as a real deployment's would.

Airflow's SimpleAuthManager decides by role (and team) only. This subclass, configured as
``[core] auth_manager = partial_auth.PartialAuthManager`` with this folder on
``PYTHONPATH``, lets the user named in ``DDTRACK_TEST_PARTIAL_USER`` (default ``pat``) read
only the DAG ids listed in ``DDTRACK_TEST_READABLE_DAGS`` (comma-separated); every other
user keeps SimpleAuthManager's rules. Users and passwords still come from
``[core] simple_auth_manager_users`` and its passwords file.
"""

from __future__ import annotations

import os

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

PARTIAL_USER_ENV = "DDTRACK_TEST_PARTIAL_USER"
READABLE_DAGS_ENV = "DDTRACK_TEST_READABLE_DAGS"


def partial_user() -> str:
    return os.environ.get(PARTIAL_USER_ENV, "pat")


def readable_dags() -> set[str]:
    return {d.strip() for d in os.environ.get(READABLE_DAGS_ENV, "").split(",") if d.strip()}


class PartialAuthManager(SimpleAuthManager):
    """SimpleAuthManager, except that one user may read the listed DAGs and no other."""

    def is_authorized_dag(self, *, method, user, access_entity=None, details=None) -> bool:
        allowed = super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
        if user.get_name() != partial_user() or details is None or details.id is None:
            return allowed
        return allowed and method == "GET" and details.id in readable_dags()
