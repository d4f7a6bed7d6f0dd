"""newsetl: raw news files in; clean, deduplicated, language- and outlet-tagged articles out in Parquet + DuckDB."""

__version__ = "0.1.0"
