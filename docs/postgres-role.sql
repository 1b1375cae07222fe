-- Grants of the a1c-jobs service role, run by the owner role once the schema is migrated
-- (`a1c-jobs migrate` as the owner), and again after every upgrade that adds a migration.
-- docs/postgres-role.md says how the roles are made; tests/role.rs runs this file.

-- Nobody but the roles named below connects or creates anything.
REVOKE ALL ON DATABASE a1c FROM PUBLIC;
GRANT CONNECT ON DATABASE a1c TO a1c_service;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO a1c_service;

-- Rows only: read, insert, update and delete; no DDL, no TRUNCATE, no triggers of its own.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO a1c_service;
-- The migrations' own bookkeeping is read (to see the schema is current), never written.
REVOKE INSERT, UPDATE, DELETE ON _sqlx_migrations FROM a1c_service;
-- audit_log.id is a bigserial.
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO a1c_service;

-- Tables and sequences a later migration creates get the same grants.
ALTER DEFAULT PRIVILEGES FOR ROLE a1c_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO a1c_service;
ALTER DEFAULT PRIVILEGES FOR ROLE a1c_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO a1c_service;
