"""Alembic environment for ddtrack's own tables.

ddtrack's tables may share Airflow's metastore, so they keep their own version table
(``ddtrack_alembic_version``) and autogenerate only ever looks at ``ddtrack_*`` tables.
"""

from alembic import context

from ddtrack.store.models import Base

VERSION_TABLE = "ddtrack_alembic_version"


def _include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table":
        return name.startswith("ddtrack_") and name != VERSION_TABLE
    return True


def run_migrations() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        include_object=_include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
