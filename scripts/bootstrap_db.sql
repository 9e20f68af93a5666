-- Creates, on a local PostgreSQL server, what `migrate` cannot create for itself:
-- the schema owner role and the database. Run as a superuser (see `make db`); safe to re-run.
-- The owner is deliberately not a superuser: it may create roles (the migrations create the
-- runtime role) and databases (the test suite's), and it owns the schema, nothing more.
\set ON_ERROR_STOP on
SELECT format('CREATE ROLE %I LOGIN CREATEDB CREATEROLE NOSUPERUSER NOBYPASSRLS', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
-- The operators' role (the admin's `operator` alias, DATABASE_OPERATOR_URL): BYPASSRLS so the
-- admin sees every tenant, which only a superuser may grant; not a superuser, owns nothing,
-- creates nothing. What it may read and update is granted by the migrations.
\if :{?operator}
\else
\set operator skeldir_operator
\endif
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT', :'operator')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'operator') \gexec
