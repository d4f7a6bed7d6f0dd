"""How many characters newsetl's language detection needs: agreement with stock langdetect on real text.

    python benchmarks/lang_agreement.py                     # ../shared/realdata, leads of 300 to 1,500 chars
    python benchmarks/lang_agreement.py --chars 600 1000    # only these lengths

For every text of the real corpora in ../shared/realdata (SemEval 2022 task 8 articles, the Kurdistan
university news in English, Arabic and Kurdish, the Lee corpus, the scrapinghub benchmark's article
bodies), stock langdetect 1.0.9 (seed 0) labels the full text, as benchmarks/bench.py's bound does; then
newsetl.language.detect_many labels the title + first N characters for each N. Prints, per N, the share
of texts with the same label and the CPU time of the detection.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from pathlib import Path

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


def real_texts(root: Path) -> list[str]:
    """Return title + body of every article of the real corpora under `root` (longer than 40 characters)."""
    texts: list[str] = []
    semeval = root / "semeval2022_task8_pairs_tr_fr" / "articles.jsonl"
    for line in semeval.read_text("utf-8").splitlines():
        d = json.loads(line)
        texts.append(f"{d.get('title') or ''}\n\n{d.get('text') or ''}")
    csv.field_size_limit(1 << 30)
    with open(root / "kurdistan_univ_news_en_ar_ku" / "Dataset.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            texts.append(f"{row.get('title') or ''}\n\n{row.get('content') or ''}")
    lee = root / "gensim_lee_news_similarity" / "lee_background.cor"
    texts += lee.read_text("utf-8", errors="replace").splitlines()
    truth = json.loads((root / "scrapinghub_article_extraction_benchmark" / "ground-truth.json").read_text("utf-8"))
    texts += [v.get("articleBody") or "" for v in (truth.values() if isinstance(truth, dict) else truth)]
    return [t for t in texts if len(t.strip()) > 40]


def _stock(text: str) -> str:
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0
    try:
        return detect(text).split("-")[0]
    except LangDetectException:
        return "und"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--realdata", type=Path, default=REALDATA)
    ap.add_argument("--chars", type=int, nargs="+", default=[300, 400, 500, 600, 800, 1000, 1500])
    args = ap.parse_args()
    if not args.realdata.is_dir():
        print(f"no real data at {args.realdata}", file=sys.stderr)
        return 2
    from newsetl.language import detect_many

    texts = real_texts(args.realdata)
    t = time.process_time()
    stock = [_stock(x) for x in texts]
    print(f"{len(texts)} real texts; stock langdetect on full texts: {time.process_time() - t:.1f} s CPU")
    print(f"  labels: {dict(Counter(stock).most_common(8))}")
    print("| characters | same label as stock | differ | detection CPU |")
    print("|---:|---:|---:|---:|")
    for n in args.chars:
        t = time.process_time()
        got = [label for label, _, _ in detect_many(texts, [None] * len(texts), max_chars=n)]
        cpu = time.process_time() - t
        same = sum(a == (b or "und") for a, b in zip(stock, got, strict=True))
        print(f"| {n:,} | {same / len(texts):.2%} ({same:,} / {len(texts):,}) | {len(texts) - same} | {cpu:.2f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
