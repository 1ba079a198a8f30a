-- bismarck 0.1.0 -> 0.2.0: updates an installed 0.1.0 in place.
-- This script is also the tail of the 0.2.0 install script, which the Makefile builds as
-- sql/bismarck--0.1.0.sql (minus its CREATE SCHEMA) followed by this file, so every statement
-- here must also run, and change the same things, on top of a fresh 0.1.0 surface whose schema
-- CREATE EXTENSION made.
\echo Use "ALTER EXTENSION bismarck UPDATE TO '0.2.0'" to load this file. \quit

-- The extension's schema. 0.1.0's control file named no schema and its script created schema
-- bismarck as a member of the extension, so pg_extension.extnamespace (what \dx shows) was the
-- schema current at CREATE EXTENSION, usually public. 0.2.0's control file says
-- schema = bismarck: CREATE EXTENSION creates the schema before the script runs and records it
-- as the extension's schema; PostgreSQL does not let that schema be a member of the extension
-- (it would contain the extension that owns it). An installed 0.1.0 is brought to exactly that
-- state: the schema leaves the extension's members, and the extension moves to it (catalog
-- updates: no command moves a non-relocatable extension; ALTER EXTENSION UPDATE runs this as
-- a superuser, as the extension is not trusted). In a fresh install each step changes nothing.
-- CREATE EXTENSION also takes a schema bismarck that exists already; one that a non-superuser
-- made beforehand would let its owner drop and replace the extension's functions. Refused.
DO $$
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_namespace n
              JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner WHERE n.nspname = 'bismarck') THEN
        RAISE EXCEPTION 'schema bismarck is owned by a role that is not a superuser'
            USING HINT = 'Drop or rename that schema, or make a superuser its owner, then create the extension.';
    END IF;
END
$$;

DO $$
DECLARE
    ext oid := (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'bismarck');
    nsp oid := 'bismarck'::regnamespace;
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_depend
                WHERE classid = 'pg_catalog.pg_namespace'::regclass AND objid = nsp
                  AND refclassid = 'pg_catalog.pg_extension'::regclass AND refobjid = ext
                  AND deptype = 'e') THEN
        ALTER EXTENSION bismarck DROP SCHEMA bismarck;
    END IF;
    UPDATE pg_catalog.pg_depend SET refobjid = nsp
     WHERE classid = 'pg_catalog.pg_extension'::regclass AND objid = ext
       AND refclassid = 'pg_catalog.pg_namespace'::regclass AND deptype = 'n'
       AND refobjid <> nsp;
    UPDATE pg_catalog.pg_extension SET extnamespace = nsp WHERE oid = ext AND extnamespace <> nsp;
END
$$;

-- PLACEHOLDER (upkeep branch): the lead's 0.2.0 changes replace this line.
COMMENT ON SCHEMA bismarck_work IS 'scratch space of training runs (shuffled copies)';
