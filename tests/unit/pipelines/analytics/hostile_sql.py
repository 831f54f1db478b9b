"""Hostile SQL for the guard's tests: every statement must be refused (BOUNDED ones must end bounded)."""

from __future__ import annotations

from pathlib import Path

from minivess.pipelines.analytics.schema import TABLES


def hostile_statements(secret: Path, out: Path) -> list[str]:
    """Hand-written attacks: writes, DDL, multi-statements, hidden statements, files, settings, tricks."""
    s, o = secret, out
    writes = []
    for t in [t.name for t in TABLES] + ["params_wide", "_minivess_sync_state", "_minivess_run_fingerprints"]:
        writes += [
            f"DELETE FROM {t}", f"UPDATE {t} SET run_id = 'x'", f"DROP TABLE {t}", f"INSERT INTO {t} SELECT * FROM {t}",
            f"TRUNCATE {t}", f"ALTER TABLE {t} RENAME TO hacked",
        ]  # fmt: skip
    other = [
        # multi-statements and statements hidden behind comments or strings
        "SELECT 1; DROP TABLE runs", "SELECT 1;DELETE FROM runs;", "SELECT 1;\nUPDATE runs SET status='X'",
        "SELECT * FROM runs; ATTACH ':memory:' AS m", "SELECT ';'; DROP TABLE runs", "SELECT 1 /* */; DROP TABLE runs",
        "/* SELECT */ DROP TABLE runs", "-- SELECT 1\nDROP TABLE runs", "SELECT 1 --\n; DELETE FROM metrics",
        "SELECT $$;$$; DROP TABLE runs", "SELECT 'a'';DROP TABLE runs;--'; DROP TABLE runs",
        "WITH x AS (SELECT 1) SELECT * FROM x; DROP TABLE runs", "SELECT 1;;DROP VIEW params_wide",
        "BEGIN; DELETE FROM runs; COMMIT", "BEGIN TRANSACTION", "COMMIT", "ROLLBACK", "CHECKPOINT", "FORCE CHECKPOINT",
        "VACUUM", "ANALYZE", "EXPLAIN SELECT 1", "EXPLAIN ANALYZE SELECT * FROM runs",
        # DDL that would only touch temp/memory still is not a SELECT
        "CREATE TABLE x AS SELECT * FROM runs", "CREATE TEMP TABLE x AS SELECT * FROM runs",
        "CREATE VIEW v AS SELECT 1", "CREATE OR REPLACE VIEW runs AS SELECT 1", "CREATE MACRO m() AS 1",
        "CREATE SEQUENCE s", "CREATE SCHEMA s", "CREATE INDEX i ON runs(run_id)", "CREATE SECRET (TYPE S3)",
        "CREATE TYPE t AS ENUM ('a')", "COMMENT ON TABLE runs IS 'x'", "DROP VIEW params_wide",
        "DROP SCHEMA main CASCADE", "INSERT INTO runs (run_id) VALUES ('x')",
        "INSERT OR REPLACE INTO tags VALUES ('a','b','c')",
        "MERGE INTO runs USING runs r2 ON runs.run_id = r2.run_id WHEN MATCHED THEN DELETE",
        "UPDATE runs SET status = 'FAILED' WHERE true RETURNING *", "DELETE FROM runs RETURNING run_id",
        # attach, copy, export, import
        f"ATTACH '{o}/new.db' AS x", f"ATTACH '{o}/new.db' AS x (READ_ONLY)", "ATTACH ':memory:' AS m",
        "DETACH warehouse", "USE system", f"COPY runs TO '{o}/leak.csv'",
        f"COPY (SELECT * FROM runs) TO '{o}/leak.parquet' (FORMAT parquet)", f"COPY runs FROM '{s}'",
        f"EXPORT DATABASE '{o}/dump'", f"IMPORT DATABASE '{o}'", "COPY FROM DATABASE warehouse TO x",
        # extensions, settings, pragmas, calls
        "INSTALL sqlite", "INSTALL httpfs FROM community", "FORCE INSTALL json", "LOAD sqlite", f"LOAD '{o}/evil.so'",
        "UPDATE EXTENSIONS", "SET threads = 1", "SET enable_external_access = true", "SET lock_configuration = false",
        "RESET enable_external_access", "SET GLOBAL memory_limit = '10TB'", "SET VARIABLE x = 1",
        "PRAGMA enable_profiling", "PRAGMA database_list", "PRAGMA version", "PRAGMA table_info('runs')",
        f"PRAGMA import_database('{o}')", "CALL duckdb_settings()", "CALL pragma_version()", "CALL checkpoint()",
        "CALL enable_logging()", "CALL force_checkpoint()", "DESCRIBE runs", "SHOW TABLES", "SHOW ALL TABLES",
        "SUMMARIZE runs", "SELECT * FROM (SUMMARIZE runs)", "SELECT * FROM (DESCRIBE runs)", "PIVOT runs ON status",
        "SELECT * FROM (PIVOT runs ON status USING count(*))", "UNPIVOT runs ON status INTO NAME k VALUE v",
        "PREPARE p AS SELECT 1", "EXECUTE p", "DEALLOCATE p",
        # reading outside the warehouse: files, globs, system catalogs, other functions
        f"SELECT * FROM read_csv('{s}')", f"SELECT * FROM read_csv_auto('{s}')", f"SELECT * FROM read_text('{s}')",
        f"SELECT * FROM read_blob('{s}')", f"SELECT * FROM read_json('{s}')", f"SELECT * FROM read_parquet('{s}')",
        f"SELECT * FROM parquet_scan('{s}')", f"SELECT * FROM sqlite_scan('{s}', 'runs')", f"SELECT * FROM glob('{s}')",
        f"SELECT * FROM '{s}'", f'SELECT * FROM "{s}"', f"SELECT * FROM sniff_csv('{s}')",
        f"SELECT * FROM runs, read_text('{s}')", f"SELECT (SELECT content FROM read_text('{s}'))",
        f"SELECT * FROM runs WHERE run_id IN (SELECT content FROM read_text('{s}'))",
        f"WITH x AS (SELECT * FROM read_csv('{s}')) SELECT * FROM x", f"SELECT * FROM runs UNION ALL FROM '{s}'",
        f"SELECT * FROM read_csv(['{s}', '{s}'])", f"FROM read_text('{s}')", f"SELECT * FROM parquet_metadata('{s}')",
        "SELECT * FROM query('SELECT 1')", "SELECT * FROM query_table('runs')", "SELECT * FROM duckdb_settings()",
        "SELECT * FROM duckdb_tables()", "SELECT * FROM duckdb_tables", "SELECT * FROM duckdb_extensions()",
        "SELECT * FROM duckdb_secrets()", "SELECT * FROM information_schema.tables",
        "SELECT * FROM pg_catalog.pg_class", "SELECT * FROM system.main.duckdb_settings()", "SELECT * FROM temp.main.x",
        "SELECT * FROM memory.main.x", "SELECT * FROM _minivess_sync_state",
        "SELECT * FROM main._minivess_run_fingerprints", "SELECT * FROM sqlite_master",
        "SELECT * FROM pragma_table_info('runs')", "SELECT * FROM pragma_database_size()",
        "SELECT * FROM test_all_types()",
        "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))", "SELECT getenv('HOME')",
        "SELECT current_setting('extension_directory')", "SELECT getvariable('x')", "SELECT write_log('x')",
        "SELECT sleep_ms(100000)", "SELECT setseed(0.5)", "SELECT * FROM runs AT (VERSION => 1)",
        "SELECT * FROM (WITH duckdb_tables AS (SELECT 1) SELECT 1), duckdb_tables", "SELECT * FROM other.main.runs",
        "SELECT * FROM warehouse.information_schema.tables", "SELECT * FROM nosuchtable",
        # string and unicode tricks
        "ＳＥＬＥＣＴ 1", "DROP\u00a0TABLE runs", "DROP\u200bTABLE runs", "SELECT 1\x00; DROP TABLE runs", "",
        "   ", ";", ";;;", "-- only a comment", "/* only a comment */", "SELECT 'unterminated", 'SELECT "unterminated',
        "SELECT 1 /* unterminated", "SELECT * FROM ｒｕｎｓ", "SELECT * FROM \"runs\u0000\"", "x" * 20_001,
        "SELECT " + "(" * 1200 + "1" + ")" * 1200, "SELECT $1", "SELECT ?", "DROP TABLE runs -- SELECT",
        "sElEcT 1; dRoP tAbLe RuNs", "SELECT 1\r\nDROP TABLE runs", "SELECT 'ünïcödé'; DELETE FROM runs",
    ]  # fmt: skip
    return writes + other


# Cross joins and other heavy queries: they may only end in the row cap or the timeout.
BOUNDED = [
    "SELECT * FROM metrics a, metrics b, metrics c",
    "SELECT a.run_id, b.run_id FROM runs a CROSS JOIN runs b CROSS JOIN runs c CROSS JOIN runs d",
    "SELECT count(*) FROM metrics a, metrics b, metrics c, metrics d",
    "SELECT * FROM range(1000000000000) ORDER BY 1 DESC",
    "SELECT * FROM range(100000000) a",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT max(n) FROM r",
    "SELECT sum(a.range * b.range) FROM range(100000) a, range(100000) b",
    "SELECT * FROM generate_series(1, 10000000000) g, runs",
    "SELECT list(m.value) FROM metrics m, metrics n, metrics o GROUP BY m.run_id",
]
