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
    "stories": "one row per story: headline, first/last published, articles, outlets, independent outlets",
    "story_articles": "every article and copy with its story, origin (outlet or wire) and whether syndicated",
    "story_merges": "stories later found to be one: story_id now reads as merged_into (never rewritten)",
    "story_roots": "each merged story id with the story it reads as now (chains of merges followed)",
    "story_index": "the story memory: each current article's story, event time and hashed story terms",
    "story_index_all": "the story memory of every loaded article, superseded versions included",
    "outlet_daily": "per outlet and ingest day: articles, copies, quarantined, shares undated/no author, words",
    "outlet_alerts": "outlet days where a metric jumped against the outlet's trailing 14 days (template changes)",
}
