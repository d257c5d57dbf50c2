"""tsstore's SQL: the Timestream dialect, its translation to DuckDB and the query engine."""
