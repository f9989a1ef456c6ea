#!/usr/bin/env bash
# docker-compose: run once by the postgres image when it creates its data folder
# (/docker-entrypoint-initdb.d). Creates the service roles (docs/security.md#database-roles): the
# group modelgate_service the migrations grant to, and the login role modelgate_app the worker and
# the API connect as (password MODELGATE_APP_DB_PASSWORD).
set -euo pipefail
: "${MODELGATE_APP_DB_PASSWORD:?set MODELGATE_APP_DB_PASSWORD}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -v pw="$MODELGATE_APP_DB_PASSWORD" <<'SQL'
CREATE ROLE modelgate_service NOLOGIN;
CREATE ROLE modelgate_app LOGIN IN ROLE modelgate_service PASSWORD :'pw';
SQL
