# PIAK Ops image: the official Airflow image plus the project's pinned dependencies
# (requirements.txt with the committed constraints.txt - the same set `make test` runs with).
# The project's code is not baked in: docker-compose.yaml mounts dags/, plugins/, include/ and
# config/.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt constraints.txt /opt/piak-build/
RUN pip install --no-cache-dir -r /opt/piak-build/requirements.txt -c /opt/piak-build/constraints.txt
