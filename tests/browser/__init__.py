"""Headless Chromium against live Airflow deployments (a package, so its fixtures end with it)."""
