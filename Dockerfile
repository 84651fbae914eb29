# ddtrack's demo on the official Apache Airflow 3 image: the same entry point the tests run
# outside Docker (tests/dev_tools/run_webserver.py), published on port 8080.
#
# Build stage: the official image has no C compiler, so ddtrack's wheel (with its C kernels,
# ddtrack/profile/_strcount.c, _hll.c and _sort.c) is built here and only the wheel is carried over.
FROM apache/airflow:3.3.2-python3.11 AS build
USER 0
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY --chown=50000:0 . /opt/ddtrack
USER 50000
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /tmp/wheels "/opt/ddtrack"

FROM apache/airflow:3.3.2-python3.11

USER 0
COPY --chown=50000:0 . /opt/ddtrack
COPY --from=build --chown=50000:0 /tmp/wheels /tmp/wheels

USER 50000
RUN pip install --no-cache-dir /tmp/wheels/ddtrack-*.whl \
    && python -c "import ddtrack.plugin, dash, dash_cytoscape, a2wsgi; from ddtrack.profile import _strcount, _hll, _sort"

# The demo harness starts `airflow`/`ddtrack` from the interpreter's own bin directory.
USER 0
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN bindir="$(dirname "$(su airflow -c 'command -v python')")" \
    && for tool in airflow ddtrack; do \
         src="$(su airflow -c "command -v ${tool}")"; \
         if [ "${src}" != "${bindir}/${tool}" ]; then ln -sf "${src}" "${bindir}/${tool}"; fi; \
       done

USER 50000
WORKDIR /opt/ddtrack
EXPOSE 8080
ENV DDTRACK_DEMO_PORT=8080
ENTRYPOINT ["python", "/opt/ddtrack/tests/dev_tools/run_webserver.py", "--host", "0.0.0.0", "--port", "8080", "--home", "/tmp/ddtrack-demo"]
