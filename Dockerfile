# PIAK Ops image: an Airflow 3.3.2 base plus the project's pinned dependencies
# (requirements.txt with the committed constraints.txt - the same set `make test` runs with).
# The base is the official image by default; an office without a registry builds a local
# stand-in from Debian's packages (docker/local/airflow.Dockerfile, scripts/build-local-images.sh)
# and names it: --build-arg AIRFLOW_BASE_IMAGE=... (compose: PIAK_AIRFLOW_BASE_IMAGE in .env).
# The project's code is not baked in: docker-compose.yaml mounts dags/, plugins/, include/ and
# config/. Builds with the classic builder too (docker-compose v1): no BuildKit features.
ARG AIRFLOW_BASE_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_BASE_IMAGE}
USER root
# The host's extra CA certificates and pip settings, when scripts/docker-host-settings.py wrote
# them (an intercepting proxy, a PyPI mirror); docker/host/ holds only a README otherwise.
COPY docker/host/ /opt/piak-image/host/
COPY docker/install-host-settings docker/pip-install /opt/piak-image/
RUN /opt/piak-image/install-host-settings
USER airflow
COPY requirements.txt constraints.txt /opt/piak-build/
RUN /opt/piak-image/pip-install -r /opt/piak-build/requirements.txt -c /opt/piak-build/constraints.txt
COPY docker/entrypoint /opt/piak-image/entrypoint
ENTRYPOINT ["/usr/bin/dumb-init", "--", "/opt/piak-image/entrypoint"]
CMD ["version"]
