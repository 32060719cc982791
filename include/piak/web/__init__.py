"""Pages and middlewares inside the Airflow UI's server, and the production auth manager."""
