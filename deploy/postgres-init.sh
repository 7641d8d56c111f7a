#!/bin/sh
# The two roles of docs/deployment.md and the database, at the first start of the
# Postgres container.
set -eu
psql -v ON_ERROR_STOP=1 --username postgres <<SQL
CREATE ROLE tamma_owner LOGIN PASSWORD '${TAMMA_OWNER_PASSWORD}' NOSUPERUSER NOBYPASSRLS;
CREATE ROLE tamma_app   LOGIN PASSWORD '${TAMMA_APP_PASSWORD}' NOSUPERUSER NOBYPASSRLS NOINHERIT;
CREATE DATABASE tamma OWNER tamma_owner;
REVOKE ALL ON DATABASE tamma FROM PUBLIC;
GRANT CONNECT ON DATABASE tamma TO tamma_app;
SQL
