"""Outlet health: per outlet and ingest day, what its records looked like, and the alert rule on top.

An outlet whose dates suddenly go missing has changed its page template; one whose articles halve in
length lost part of its body to the extractor; one that stops arriving broke its feed. `outlet_daily`
has the metrics, `outlet_alerts` the days where one jumped against the outlet's own trailing two weeks.

The rule (one place, used by the view and documented in the README):
- only days with MIN_TRAILING_DAYS earlier days in the 14 before, and for shares and lengths at least
  MIN_RECORDS records that day (fewer cannot tell a template change from chance);
- a share (undated, without author, quarantined, duplicated) alerts when it rose by SHARE_JUMP or more
  over its trailing mean (0.3 = 30 percentage points: from 0 % undated to a third undated);
- median words alert when they fell to half or less, or doubled, against the trailing median;
- volume (records that day) alerts when it fell to a quarter or less, or grew fourfold, against a
  trailing mean of at least MIN_RECORDS.
"""

from __future__ import annotations

TRAILING_DAYS = 14
MIN_TRAILING_DAYS = 3
MIN_RECORDS = 5
SHARE_JUMP = 0.3
WORDS_FACTOR = 2.0
VOLUME_FACTOR = 4.0
SHARES = ("share_undated", "share_no_author", "share_quarantined", "share_duplicated")


def outlet_daily_select(articles: str = "articles", duplicates: str = "duplicates", days: str = "") -> str:
    """Return the SELECT of outlet_daily: per outlet and ingest day, its records' metrics.

    articles, duplicates: the relations of current articles and copies (the pipeline passes ones without
    the story join and the copies' repointing, which change no column read here). days: a condition on
    `ingest_date` applied to each source before the union (the pipeline reads the trailing window only).
    """
    where = f"WHERE {days}" if days else ""
    return f"""WITH r AS (
  SELECT outlet_id, outlet_name, ingest_date AS day, 'article' AS kind, published_at IS NULL AS undated,
         author IS NULL AS no_author, word_count, language
  FROM {articles} {where}
  UNION ALL
  SELECT outlet_id, outlet_name, ingest_date, 'copy', published_at IS NULL, author IS NULL, word_count, NULL
  FROM {duplicates} {where}
  UNION ALL
  SELECT outlet_id, NULL, ingest_date, 'quarantined', NULL, NULL, NULL, NULL FROM quarantine {where}
)
SELECT outlet_id, max(outlet_name) AS outlet_name, day,
  count(*) FILTER (WHERE kind = 'article') AS articles,
  count(*) FILTER (WHERE kind = 'copy') AS copies,
  count(*) FILTER (WHERE kind = 'quarantined') AS quarantined,
  avg(undated::DOUBLE) AS share_undated,
  avg(no_author::DOUBLE) AS share_no_author,
  median(word_count) AS median_words,
  list(DISTINCT language ORDER BY language) FILTER (WHERE language IS NOT NULL) AS languages,
  count(*) FILTER (WHERE kind = 'quarantined') / count(*) AS share_quarantined,
  count(*) FILTER (WHERE kind = 'copy') / nullif(count(*) FILTER (WHERE kind <> 'quarantined'), 0) AS share_duplicated
FROM r WHERE outlet_id IS NOT NULL
GROUP BY outlet_id, day"""


OUTLET_DAILY_SQL = f"CREATE OR REPLACE VIEW outlet_daily AS\n{outlet_daily_select()}"


def alerts_sql(daily: str = "outlet_daily") -> str:
    """Return the SELECT of outlet alerts over a relation shaped like `outlet_daily`."""
    shares = ", ".join(f"'{s}'" for s in SHARES)
    metrics = ",\n    ".join(
        [f"{{'metric': '{s}', 'value': {s}::DOUBLE, 'trailing': t_{s}}}" for s in SHARES]
        + [
            "{'metric': 'median_words', 'value': median_words::DOUBLE, 'trailing': t_words}",
            "{'metric': 'volume', 'value': records::DOUBLE, 'trailing': t_volume}",
        ]
    )
    trailing = ",\n    ".join(f"avg({s}) OVER w AS t_{s}" for s in SHARES)
    return f"""WITH t AS (
  SELECT d.*, articles + copies + quarantined AS records,
    count(*) OVER w AS trailing_days,
    avg(articles + copies + quarantined) OVER w AS t_volume,
    median(median_words) OVER w AS t_words,
    {trailing}
  FROM {daily} d
  WINDOW w AS (PARTITION BY outlet_id ORDER BY day
               RANGE BETWEEN INTERVAL {TRAILING_DAYS} DAYS PRECEDING AND INTERVAL 1 DAY PRECEDING)
), m AS (
  SELECT outlet_id, outlet_name, day, records, trailing_days, unnest([
    {metrics}
  ]) AS x FROM t
)
SELECT outlet_id, outlet_name, day, x.metric AS metric, x.value AS value, x.trailing AS trailing, trailing_days,
  x.metric || ' ' || CASE WHEN x.metric IN ({shares}) THEN printf('%.0f%%', 100 * x.value) ELSE printf('%.0f', x.value) END
  || ' against ' || CASE WHEN x.metric IN ({shares}) THEN printf('%.0f%%', 100 * x.trailing) ELSE printf('%.0f', x.trailing) END
  || ' over the ' || trailing_days || ' earlier day(s) of the last {TRAILING_DAYS}' AS detail
FROM m
WHERE trailing_days >= {MIN_TRAILING_DAYS} AND x.value IS NOT NULL AND x.trailing IS NOT NULL
  AND (
    (x.metric IN ({shares}) AND records >= {MIN_RECORDS} AND x.value - x.trailing >= {SHARE_JUMP})
    OR (x.metric = 'median_words' AND records >= {MIN_RECORDS} AND x.trailing > 0
        AND (x.value * {WORDS_FACTOR} <= x.trailing OR x.value >= x.trailing * {WORDS_FACTOR}))
    OR (x.metric = 'volume' AND x.trailing >= {MIN_RECORDS}
        AND (x.value * {VOLUME_FACTOR} <= x.trailing OR x.value >= x.trailing * {VOLUME_FACTOR}))
  )"""


OUTLET_ALERTS_SQL = f"CREATE OR REPLACE VIEW outlet_alerts AS\n{alerts_sql()}"
