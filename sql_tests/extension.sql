-- The extension installs into its own schema, reports its version, and drops cleanly.
SELECT bismarck.version() = extversion AS version_matches
  FROM pg_extension WHERE extname = 'bismarck';
SELECT nspname FROM pg_namespace WHERE nspname = 'bismarck';
DROP EXTENSION bismarck;
SELECT count(*) AS leftover_schema FROM pg_namespace WHERE nspname = 'bismarck';
SELECT count(*) AS leftover_functions FROM pg_proc WHERE probin LIKE '%bismarck%';
CREATE EXTENSION bismarck;
SELECT bismarck.version();
