"""Steps: the units a run is made of, each reading what earlier steps staged and returning what it wrote.

    plan_files    the landing folder -> Plan (chunks of new file versions; rows for files not read)
    parse_chunk   a chunk of files -> cleaned, fingerprinted parts + their quarantine (worker process)
    dedup_run     all cleaned parts -> one decisions part per part (kept / exact / near), history included
    tag_part      a part + its decisions -> duplicates part + tagged part (language, outlet; worker process)
    validate_parts tagged parts, several at once -> articles, quarantine and dedup-index parts (Great Expectations)
    resolve_copies the run's lost articles -> copy_fixes part (+ promoted articles) so no copy dangles
    assign_run_stories the run's articles + the story index in the window -> story_index (+ story_merges) part

One module per step; pipeline.run_steps calls them in this order.

Steps pass paths and counts, never big tables; every path comes from staging.StagePaths.
"""

from newsetl.steps.copies import resolve_copies
from newsetl.steps.dedup import DedupResult, dedup_run
from newsetl.steps.parse import ChunkResult, parse_chunk
from newsetl.steps.plan import Plan, plan_files
from newsetl.steps.stories import StoryResult, assign_run_stories
from newsetl.steps.tag import TagResult, tag_part, tag_records
from newsetl.steps.validate import VALIDATE_ROWS, PartResult, batches_of, validate_parts

__all__ = [
    "VALIDATE_ROWS",
    "ChunkResult",
    "DedupResult",
    "PartResult",
    "Plan",
    "StoryResult",
    "TagResult",
    "assign_run_stories",
    "batches_of",
    "dedup_run",
    "parse_chunk",
    "plan_files",
    "resolve_copies",
    "tag_part",
    "tag_records",
    "validate_parts",
]
