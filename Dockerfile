# PIAK Ops image: the official Airflow image plus the project's pinned dependencies.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt constraints.txt /opt/piak/
RUN pip install --no-cache-dir -r /opt/piak/requirements.txt -c /opt/piak/constraints.txt \
    "apache-airflow-providers-celery" "apache-airflow-providers-postgres"
