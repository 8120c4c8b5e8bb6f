-- One database per service that has one (drill/services.py, uses_database). They cannot share:
-- DB_RESET_ON_START drops every table of the database it finds (services/kit/db.py), so billing
-- starting would wipe orders' tables. Runs once, when the container initialises an empty data
-- directory; the owner is POSTGRES_USER from .env.
CREATE DATABASE billing OWNER drill;
CREATE DATABASE orders OWNER drill;
