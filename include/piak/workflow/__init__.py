"""Airflow building blocks: the SOP DAG, its operational steps, sign-offs, notifiers."""
