# syntax=docker/dockerfile:1
# One image for every process kind; the command picks it (compose.yaml, docs/deployment.md):
#   api      gunicorn -c python:api.gunicorn_conf --bind 0.0.0.0:8000 ... 'api:create_app()' (default)
#   worker   celery -A tasks.celery_app worker --queues packages --hostname packages@%h ...
#   sweeper  celery -A tasks.celery_app worker --queues default --hostname sweeper@%h ...
#   beat     celery -A tasks.celery_app beat --schedule /var/lib/dumpus/celerybeat-schedule
#   flower   python -m launchers.flower
#
#   docker build -t dumpus-stats .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the runtime dependencies from the lock, then the project's wheel (C loop compiled) ---
FROM ${PYTHON_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/dumpus
WORKDIR /src
# The locks alone first: the dependency layers are rebuilt only when a lock changes.
COPY requirements.lock requirements-build.lock ./
RUN /opt/dumpus/bin/pip install --require-hashes --no-deps -r requirements.lock \
    && /opt/dumpus/bin/pip check
# The build backend (setuptools, hashed) in a venv of its own: it never reaches the image.
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes --no-deps -r requirements-build.lock
COPY . .
# No build isolation: the build uses the locked setuptools, nothing fetched unpinned.
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && /opt/dumpus/bin/pip install --no-deps /wheels/*.whl
# From outside the source tree: every entry point imports from the installed wheel, and the
# activity scanner's C loop is there (without it the scanner silently runs ~3x slower).
WORKDIR /
RUN /opt/dumpus/bin/python -c "import api, celeryconfig, launchers.flower, tasks.celery_app, \
parsers.activity._linescan, parsers.activity._pairs, parsers.aggregate._dayfold, \
parsers.sources._stamps"

# --- runtime: the interpreter, the virtual environment, no compiler, no source tree ---
FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
RUN groupadd --system --gid ${UID} dumpus \
    && useradd --system --uid ${UID} --gid dumpus --no-create-home --shell /usr/sbin/nologin dumpus \
    && install -d -o dumpus -g dumpus -m 0700 /var/lib/dumpus /var/lib/dumpus-keys
COPY --from=build /opt/dumpus /opt/dumpus
# DATA_DIR: temp downloads, beat's schedule, gunicorn's control socket (the store is MongoDB in
# compose.yaml). LINK_KEY_DIR is mounted from a volume shared by the API and the workers.
ENV PATH=/opt/dumpus/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DATA_DIR=/var/lib/dumpus \
    LINK_KEY_DIR=/var/lib/dumpus-keys
# Not DATA_DIR: the working directory is on sys.path, and nothing the app writes may land there.
WORKDIR /opt/dumpus
USER ${UID}:${UID}
VOLUME ["/var/lib/dumpus"]
EXPOSE 8000
# For the API (the default command); compose.yaml gives the other processes their own check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/livez', timeout=4)"]
CMD ["gunicorn", "-c", "python:api.gunicorn_conf", "--bind", "0.0.0.0:8000", "--workers", "2", \
     "--threads", "4", "api:create_app()"]
