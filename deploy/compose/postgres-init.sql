-- The trial's one PostgreSQL server holds a database and an owner per service (run once, on an empty volume).
-- TRIAL ONLY: the passwords are written here in the open; production takes them from Secrets (docs/operations.md).
CREATE ROLE case_api LOGIN PASSWORD 'trial-only-case-api';
CREATE DATABASE case_api OWNER case_api;
CREATE ROLE notifier LOGIN PASSWORD 'trial-only-notifier';
CREATE DATABASE notifier OWNER notifier;
CREATE ROLE partner_gateway LOGIN PASSWORD 'trial-only-partner-gateway';
CREATE DATABASE partner_gateway OWNER partner_gateway;
