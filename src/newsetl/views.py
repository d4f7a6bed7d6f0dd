"""The warehouse's views: their names and what each holds (warehouse.catalog_sql defines them)."""

# Every view of the catalog, with the one line `newsetl query --help` shows for it.
VIEWS = {
    "articles": "one row per current article (the versions no corrected file superseded)",
    "articles_all": "every loaded article, superseded versions included",
    "duplicates": "exact and near copies, each pointing at an article in `articles` (duplicate_of)",
    "duplicates_all": "copies as first recorded, before copy_fixes re-pointed, promoted or demoted them",
    "quarantine": "records that could not be loaded: stage, reason, detail and the raw record",
    "quarantine_all": "quarantine without copies demoted by copy_fixes",
    "copy_fixes": "what runs did to copies of lost articles: promoted, repointed or demoted (with why)",
    "files": "one row per file version seen: status (loaded, partial, failed, ...), records, error",
    "runs": "one row per run: status, counts of every stage, seconds per stage",
    "sources": "outlets: the registry (known) and outlets found in articles (not known)",
    "validations": "Great Expectations results, one row per expectation and run",
    "supersessions": "file versions a corrected file replaced (path, sha256, superseded_by)",
    "parts": "the manifest: every published part with its size, checksum, rows and file versions",
    "repairs": "damaged or missing parts runs found, and what they did: reloaded, lost, restored",
    "dedup_index": "fingerprints of current articles (text hash, MinHash signature, LSH bands)",
    "dedup_index_all": "fingerprints of every loaded article, superseded versions included",
}
