-- The extension installs into its own schema, reports its version, and drops cleanly.
SELECT bismarck.version() = extversion AS version_matches
  FROM pg_extension WHERE extname = 'bismarck';
-- the control file names the schema, so \dx shows it; it is not a member of the extension
SELECT extnamespace::regnamespace AS schema FROM pg_extension WHERE extname = 'bismarck';
SELECT count(*) AS schema_is_member FROM pg_depend
 WHERE classid = 'pg_namespace'::regclass AND objid = 'bismarck'::regnamespace AND deptype = 'e';
DROP EXTENSION bismarck;
-- nowhere else
CREATE EXTENSION bismarck SCHEMA public;
-- DROP EXTENSION leaves the schema, empty; CREATE EXTENSION takes it again
SELECT count(*) AS leftover_schema FROM pg_namespace WHERE nspname = 'bismarck';
SELECT count(*) AS leftover_objects FROM pg_class WHERE relnamespace = 'bismarck'::regnamespace;
SELECT count(*) AS leftover_functions FROM pg_proc WHERE probin LIKE '%bismarck%';
DROP SCHEMA bismarck;
-- a schema bismarck made beforehand by a role that is not a superuser is refused
CREATE ROLE bismarck_squatter;
CREATE SCHEMA bismarck AUTHORIZATION bismarck_squatter;
CREATE EXTENSION bismarck;
DROP SCHEMA bismarck;
DROP ROLE bismarck_squatter;
CREATE EXTENSION bismarck;
SELECT bismarck.version();
-- every function, aggregate, type, table and view of the extension has a comment
SELECT p.oid::regprocedure::text AS undocumented FROM pg_proc p
 WHERE p.pronamespace = 'bismarck'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL
UNION ALL
SELECT t.oid::regtype::text FROM pg_type t
 WHERE t.typnamespace = 'bismarck'::regnamespace AND t.typcategory <> 'A' AND t.typrelid = 0
   AND obj_description(t.oid, 'pg_type') IS NULL
UNION ALL
SELECT c.oid::regclass::text FROM pg_class c
 WHERE c.relnamespace = 'bismarck'::regnamespace AND c.relkind IN ('r', 'v', 'm')
   AND obj_description(c.oid, 'pg_class') IS NULL;
