#!/bin/sh
# One database per service that has one (drill/services.py, uses_database). They cannot share:
# DB_RESET_ON_START drops every table of the database it finds (services/kit/db.py), so billing
# starting would wipe orders' tables. The postgres image runs this once, when it initialises an
# empty data directory, as POSTGRES_USER (from .env), who owns both.
set -eu
for database in billing orders; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -c "CREATE DATABASE $database OWNER \"$POSTGRES_USER\""
done
