"""Story quality on labelled real data beside the checkout (../shared), through the whole pipeline.

    python benchmarks/stories_eval.py                 # SemEval-2022 task 8 (tr, fr), Lee news, the seeds
    python benchmarks/stories_eval.py --json          # the same figures as one JSON object

SemEval-2022 task 8: 960 real Turkish and French articles in 488 pairs people rated from 1 (same
story) to 4 (different). All 960 go into one run; a pair is linked when both articles get one story.
Reported: the share of same-story pairs (Overall <= 1.5) linked, and of different pairs (Overall >= 3.5).
Lee: 50 English news documents with pairwise human similarity (0..1); reported per similarity band.
The seeds: two outlets' reports of one story, which must share a story.
The articles carry no dates here, so the time window plays no part (all share the run's start).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from newsetl.config import Settings
from newsetl.pipeline import run_pipeline
from newsetl.warehouse import connect

SHARED = Path(__file__).resolve().parents[2] / "shared"


def _ingest(records: list[dict], work: Path, **overrides: object) -> dict[str, str]:
    """Ingest records (one JSONL file) into a fresh warehouse; return {record key: story_id}."""
    landing = work / "landing"
    landing.mkdir(parents=True)
    with (landing / "feed.jsonl").open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    settings = Settings.from_env(landing=landing, warehouse=work / "warehouse", **overrides)
    run_pipeline(settings)
    con = connect(work / "warehouse")
    try:
        rows = con.execute("SELECT url, current_story_id FROM articles").fetchall()
        rows += con.execute(
            "SELECT d.url, a.current_story_id FROM duplicates d JOIN articles a ON a.article_id = d.duplicate_of"
        ).fetchall()
    finally:
        con.close()
    return {url.rsplit("/", 1)[1]: story for url, story in rows}


def semeval(work: Path, **overrides: object) -> dict:
    base = SHARED / "realdata" / "semeval2022_task8_pairs_tr_fr"
    arts = [json.loads(line) for line in (base / "articles.jsonl").open(encoding="utf-8")]
    records = [
        {"title": a["title"], "text": a["text"], "language": a["language"], "url": f"https://semeval.example/{a['id']}"}
        for a in arts
    ]
    t = time.perf_counter()
    story = _ingest(records, work / "semeval", **overrides)
    seconds = time.perf_counter() - t
    same = diff = same_linked = diff_linked = missing = 0
    for p in csv.DictReader((base / "pairs.csv").open(encoding="utf-8")):
        a, b, overall = p["article_id_1"], p["article_id_2"], float(p["Overall"])
        if a not in story or b not in story:
            missing += 1
            continue
        linked = story[a] == story[b]
        if overall <= 1.5:
            same, same_linked = same + 1, same_linked + linked
        elif overall >= 3.5:
            diff, diff_linked = diff + 1, diff_linked + linked
    return {
        "articles": len(arts),
        "loaded": len(story),
        "stories": len(set(story.values())),
        "same_pairs": same,
        "same_linked": same_linked / same if same else None,
        "different_pairs": diff,
        "different_linked": diff_linked / diff if diff else None,
        "pairs_not_loaded": missing,
        "seconds": round(seconds, 1),
    }


def lee(work: Path, **overrides: object) -> dict:
    base = SHARED / "realdata" / "gensim_lee_news_similarity"
    docs = [line.strip() for line in (base / "lee.cor").open(encoding="utf-8", errors="replace") if line.strip()]
    records = [
        {"title": d.split(". ")[0][:150], "text": d, "language": "en", "url": f"https://lee.example/{i}"}
        for i, d in enumerate(docs)
    ]
    story = _ingest(records, work / "lee", **overrides)
    sims = [[float(x) for x in line.split()] for line in (base / "similarities0-1.txt").open() if line.strip()]
    bands: dict[str, list[int]] = {">=0.8": [0, 0], "0.6-0.8": [0, 0], "<0.4": [0, 0]}
    for i in range(len(docs)):
        for j in range(i + 1, len(docs)):
            s = max(sims[i][j], sims[j][i])
            band = ">=0.8" if s >= 0.8 else "0.6-0.8" if s >= 0.6 else "<0.4" if s < 0.4 else None
            if band and str(i) in story and str(j) in story:
                bands[band][0] += 1
                bands[band][1] += story[str(i)] == story[str(j)]
    return {k: {"pairs": n, "linked": (k2 / n if n else None)} for k, (n, k2) in bands.items()}


def seeds(work: Path, **overrides: object) -> dict:
    files = sorted((SHARED / "seeds").glob("*.txt"))
    landing = work / "seeds" / "landing"
    landing.mkdir(parents=True)
    for f in files:
        shutil.copy(f, landing / f.name)
    settings = Settings.from_env(landing=landing, warehouse=work / "seeds" / "warehouse", **overrides)
    run_pipeline(settings)
    con = connect(work / "seeds" / "warehouse")
    try:
        rows = con.execute("SELECT outlet_name, current_story_id FROM articles").fetchall()
    finally:
        con.close()
    return {"articles": len(rows), "stories": len({s for _, s in rows}), "outlets": sorted(o for o, _ in rows)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--threshold", type=float, default=None, help="NEWSETL_STORY_THRESHOLD to evaluate")
    args = ap.parse_args()
    if not (SHARED / "realdata").is_dir():
        print(f"{SHARED} is not beside this checkout: nothing to evaluate", file=sys.stderr)
        return 1
    overrides = {"story_threshold": args.threshold} if args.threshold else {}
    with tempfile.TemporaryDirectory(prefix="newsetl-stories-") as tmp:
        out = {"semeval": semeval(Path(tmp), **overrides), "lee": lee(Path(tmp), **overrides)}
        out["seeds"] = seeds(Path(tmp), **overrides)
    if args.json:
        print(json.dumps(out))
    else:
        s = out["semeval"]
        print(
            f"SemEval-2022 task 8 (tr+fr): {s['loaded']}/{s['articles']} articles loaded in one run, "
            f"{s['stories']} stories, {s['seconds']} s"
        )
        print(f"  same-story pairs (Overall <= 1.5) linked:  {s['same_linked']:.1%} of {s['same_pairs']}")
        print(f"  different pairs (Overall >= 3.5) linked:   {s['different_linked']:.1%} of {s['different_pairs']}")
        for band, v in out["lee"].items():
            linked = "-" if v["linked"] is None else f"{v['linked']:.1%}"
            print(f"Lee news, human similarity {band}: {linked} of {v['pairs']} pairs linked")
        print(
            f"seeds: {out['seeds']['articles']} articles, {out['seeds']['stories']} story ({out['seeds']['outlets']})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
