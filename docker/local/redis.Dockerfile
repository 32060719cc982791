# Local stand-in for the official redis image, built without a registry from Debian's
# redis-server. The official image is built with protected mode off (other containers connect
# without a password on the private compose network); this one says so on its command line.
ARG DEBIAN_IMAGE=piak-local/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o redis -g redis -m 750 /data
USER redis
WORKDIR /data
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no", "--dir", "/data"]
