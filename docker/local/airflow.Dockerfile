# Local stand-in for apache/airflow:3.3.2-python3.11, built without a registry: the Debian base
# of scripts/build-local-images.sh (debootstrap from the host's Debian mirror), Debian's Python
# 3.11 and Airflow installed by pip from requirements.txt + constraints.txt. Laid out like the
# official image where the stack relies on it: user airflow (uid 50000, group 0) with the
# packages in ~/.local (PIP_USER), AIRFLOW_HOME=/opt/airflow, dumb-init, curl for healthchecks.
ARG DEBIAN_IMAGE=piak-local/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-pip python-is-python3 \
       dumb-init curl ca-certificates tzdata procps \
    && rm -rf /var/lib/apt/lists/* \
    && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED \
    && useradd --uid 50000 --gid 0 --home-dir /home/airflow --create-home --shell /bin/bash airflow \
    && install -d -o 50000 -g 0 -m 2775 /opt/airflow
COPY docker/host/ /opt/piak-image/host/
COPY docker/install-host-settings docker/pip-install /opt/piak-image/
RUN /opt/piak-image/install-host-settings
ENV AIRFLOW_HOME=/opt/airflow \
    AIRFLOW_USER_HOME_DIR=/home/airflow \
    PIP_USER=true \
    PATH=/home/airflow/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1
USER airflow
WORKDIR /opt/airflow
COPY requirements.txt constraints.txt /opt/piak-build/
RUN /opt/piak-image/pip-install -r /opt/piak-build/requirements.txt -c /opt/piak-build/constraints.txt
ENTRYPOINT ["/usr/bin/dumb-init", "--"]
CMD ["airflow", "version"]
