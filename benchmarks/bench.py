"""Benchmark: generate a corpus of N made-up articles, ingest it, print articles/s per stage and peak memory.

    python benchmarks/bench.py --articles 20000            # plain pipeline, 2 workers
    python benchmarks/bench.py --articles 100000 --keep    # keep the corpus and warehouse in bench-out/

The corpus mixes formats (JSONL 60%, gzipped JSON arrays 15%, text files 15% in both layouts,
HTML pages 10%), ten languages, and duplicate rates (5% exact copies, 5% near copies with a
sentence changed). Text is word salad from small per-language word lists written for this
script: realistic enough for langdetect, MinHash and the cleaner to do their real work.
Peak memory is sampled every 0.1 s over this process and its worker processes (psutil).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

WORDS = {
    "en": [
        "the",
        "of",
        "and",
        "to",
        "in",
        "a",
        "is",
        "that",
        "for",
        "on",
        "with",
        "as",
        "was",
        "by",
        "at",
        "from",
        "said",
        "government",
        "city",
        "council",
        "people",
        "new",
        "year",
        "report",
        "officials",
        "plan",
        "would",
        "market",
        "week",
        "minister",
        "police",
        "public",
        "company",
        "country",
        "world",
        "could",
        "after",
        "about",
        "more",
        "than",
        "their",
        "which",
        "there",
        "been",
        "has",
        "have",
        "will",
        "also",
        "who",
        "other",
        "first",
        "two",
        "last",
        "local",
        "data",
    ],
    "de": [
        "der",
        "die",
        "das",
        "und",
        "ist",
        "nicht",
        "mit",
        "auf",
        "für",
        "den",
        "von",
        "sich",
        "des",
        "ein",
        "eine",
        "im",
        "dem",
        "zu",
        "auch",
        "es",
        "an",
        "werden",
        "wurde",
        "nach",
        "bei",
        "Regierung",
        "Stadt",
        "Jahr",
        "Menschen",
        "neue",
        "sagte",
        "sollen",
        "wird",
        "können",
        "zwischen",
        "über",
        "unter",
        "Millionen",
    ],
    "fr": [
        "le",
        "la",
        "les",
        "de",
        "des",
        "et",
        "est",
        "un",
        "une",
        "du",
        "en",
        "dans",
        "pour",
        "que",
        "qui",
        "sur",
        "pas",
        "plus",
        "par",
        "avec",
        "au",
        "ce",
        "sont",
        "été",
        "gouvernement",
        "ville",
        "année",
        "selon",
        "nouvelle",
        "a",
        "dit",
        "mais",
        "aussi",
        "leur",
        "entre",
        "depuis",
        "millions",
        "toujours",
    ],
    "es": [
        "el",
        "la",
        "los",
        "las",
        "de",
        "del",
        "y",
        "en",
        "que",
        "un",
        "una",
        "por",
        "para",
        "con",
        "se",
        "es",
        "no",
        "al",
        "lo",
        "como",
        "más",
        "pero",
        "sus",
        "fue",
        "gobierno",
        "ciudad",
        "año",
        "según",
        "nueva",
        "dijo",
        "también",
        "entre",
        "desde",
        "millones",
        "ha",
        "sido",
        "este",
    ],
    "pt": [
        "o",
        "a",
        "os",
        "as",
        "de",
        "do",
        "da",
        "e",
        "em",
        "que",
        "um",
        "uma",
        "para",
        "com",
        "não",
        "por",
        "mais",
        "no",
        "na",
        "se",
        "como",
        "foi",
        "governo",
        "cidade",
        "ano",
        "segundo",
        "nova",
        "disse",
        "também",
        "entre",
        "desde",
        "milhões",
        "tem",
        "sido",
        "pelo",
        "pela",
    ],
    "it": [
        "il",
        "la",
        "le",
        "di",
        "del",
        "della",
        "e",
        "che",
        "un",
        "una",
        "per",
        "con",
        "non",
        "sono",
        "al",
        "nel",
        "si",
        "come",
        "più",
        "ma",
        "anche",
        "governo",
        "città",
        "anno",
        "secondo",
        "nuova",
        "ha",
        "detto",
        "tra",
        "dopo",
        "milioni",
        "stato",
        "questo",
    ],
    "ru": [
        "и",
        "в",
        "не",
        "на",
        "что",
        "с",
        "по",
        "как",
        "это",
        "из",
        "за",
        "от",
        "к",
        "для",
        "о",
        "но",
        "так",
        "же",
        "все",
        "уже",
        "было",
        "году",
        "города",
        "правительство",
        "сказал",
        "также",
        "между",
        "после",
        "миллионов",
        "может",
        "будет",
        "новый",
    ],
    "uk": [
        "і",
        "в",
        "не",
        "на",
        "що",
        "з",
        "по",
        "як",
        "це",
        "із",
        "за",
        "від",
        "до",
        "для",
        "про",
        "але",
        "так",
        "також",
        "вже",
        "було",
        "році",
        "міста",
        "уряд",
        "сказав",
        "між",
        "після",
        "мільйонів",
        "може",
        "буде",
        "новий",
        "їх",
    ],
    "ar": [
        "في",
        "من",
        "على",
        "إلى",
        "أن",
        "عن",
        "مع",
        "هذا",
        "التي",
        "الذي",
        "كان",
        "قال",
        "الحكومة",
        "المدينة",
        "العام",
        "بين",
        "بعد",
        "ملايين",
        "وزير",
        "جديد",
        "هذه",
        "كما",
        "أيضا",
        "ذلك",
        "حيث",
        "عند",
    ],
    "zh": [
        "的",
        "是",
        "在",
        "了",
        "和",
        "有",
        "我们",
        "他们",
        "政府",
        "城市",
        "今年",
        "表示",
        "新的",
        "发展",
        "经济",
        "市场",
        "公司",
        "国家",
        "记者",
        "报道",
        "已经",
        "可以",
        "进行",
        "工作",
        "问题",
        "时间",
        "地区",
    ],
}
OUTLETS = [
    "Reuters",
    "Le Monde",
    "El País",
    "Xinhua",
    "Al Jazeera",
    "Deutsche Welle",
    "Ukrinform",
    "ANSA",
    "Folha de S.Paulo",
    "Meduza",
    "Riverside Gazette",
    "Harbour Times",
]


def sentence(rng: random.Random, lang: str) -> str:
    words = rng.choices(WORDS[lang], k=rng.randint(8, 18))
    if lang == "zh":
        return "".join(words) + "。"
    s = " ".join(words)
    return s[0].upper() + s[1:] + "."


def article(rng: random.Random, i: int) -> dict:
    lang = rng.choice(list(WORDS))
    paras = [" ".join(sentence(rng, lang) for _ in range(rng.randint(2, 5))) for _ in range(rng.randint(3, 7))]
    return {
        "title": f"{sentence(rng, lang)[:-1]} {i}",
        "text": "\n\n".join(paras),
        "url": f"https://news{rng.randint(1, 40)}.example/{lang}/{i}",
        "source": rng.choice(OUTLETS),
        "published_at": f"2026-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00+01:00",
        "language": lang if rng.random() < 0.3 else None,
        "lang_true": lang,  # not a feed field newsetl reads; lets near copies stay in one language
    }


def near_copy(rng: random.Random, a: dict) -> dict:
    paras = a["text"].split("\n\n")
    k = rng.randrange(len(paras))
    paras[k] = paras[k] + " " + sentence(rng, a["lang_true"])
    return a | {"text": "\n\n".join(paras), "url": a["url"] + "?syndicated=1", "source": rng.choice(OUTLETS)}


def as_text(a: dict, layout: int) -> str:
    if layout == 0:  # layout A
        return (
            f"World {a['published_at']}\n{a['source']}\n{a['title']}\n\n{a['title']}\n\n"
            f"news, world, economy, politics\n\n{a['text']}"
        )
    if layout == 1:  # layout B
        return f"untitled design\n\n{a['title']}\n\n{a['text']}\n\n(Posted by Sam Reed)\n\nSource: {a['source']}\n\nYou may also like"
    return f"{a['title']}\n\n{a['text']}"


def as_html(a: dict) -> str:
    body = "".join(f"<p>{p}</p>" for p in a["text"].split("\n\n"))
    return (
        f'<html><head><title>{a["title"]}</title><link rel="canonical" href="{a["url"]}">'
        f'<meta property="og:site_name" content="{a["source"]}"></head><body><nav><a href="/">Home</a></nav>'
        f"<article><h1>{a['title']}</h1>{body}</article><footer>All rights reserved.</footer></body></html>"
    )


def generate(landing: Path, n: int, seed: int = 7) -> dict:
    """Write n articles into landing; return the counts by format and duplicate kind."""
    rng = random.Random(seed)
    landing.mkdir(parents=True, exist_ok=True)
    made: list[dict] = []
    counts = {"jsonl": 0, "json.gz": 0, "txt": 0, "html": 0, "exact": 0, "near": 0}
    jsonl: list[dict] = []
    jsonarr: list[dict] = []
    file_no = 0

    def flush(force: bool = False) -> None:
        nonlocal jsonl, jsonarr, file_no
        if jsonl and (force or len(jsonl) >= 500):
            (landing / f"feed-{file_no:06d}.jsonl").write_text(
                "\n".join(json.dumps(r, ensure_ascii=False) for r in jsonl)
            )
            file_no += 1
            jsonl = []
        if jsonarr and (force or len(jsonarr) >= 200):
            (landing / f"batch-{file_no:06d}.json.gz").write_bytes(
                gzip.compress(json.dumps(jsonarr, ensure_ascii=False).encode(), mtime=0)
            )
            file_no += 1
            jsonarr = []

    for i in range(n):
        r = rng.random()
        if made and r < 0.05:
            a = dict(rng.choice(made))
            counts["exact"] += 1
        elif made and r < 0.10:
            a = near_copy(rng, rng.choice(made))
            counts["near"] += 1
        else:
            a = article(rng, i)
            if len(made) < 5000:
                made.append(a)
            else:
                made[rng.randrange(5000)] = a
        f = rng.random()
        if f < 0.60:
            jsonl.append(a)
            counts["jsonl"] += 1
        elif f < 0.75:
            jsonarr.append(a)
            counts["json.gz"] += 1
        elif f < 0.90:
            sub = landing / f"text-{i // 1000:04d}"
            sub.mkdir(exist_ok=True)
            (sub / f"a{i:07d}.txt").write_text(as_text(a, i % 3))
            counts["txt"] += 1
        else:
            sub = landing / f"pages-{i // 1000:04d}"
            sub.mkdir(exist_ok=True)
            (sub / f"p{i:07d}.html").write_text(as_html(a))
            counts["html"] += 1
        flush()
    flush(force=True)
    return counts


class PeakMemory:
    """Samples RSS of this process plus its children every `interval` seconds."""

    def __init__(self, interval: float = 0.1) -> None:
        import psutil

        self.proc = psutil.Process()
        self.interval = interval
        self.peak_total = self.peak_parent = self.peak_child = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                parent = self.proc.memory_info().rss
                kids = []
                for c in self.proc.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        kids.append(c.memory_info().rss)
                self.peak_parent = max(self.peak_parent, parent)
                self.peak_child = max([self.peak_child, *kids])
                self.peak_total = max(self.peak_total, parent + sum(kids))
            except psutil.Error:
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=None, help="worker processes (default: settings, 2 here)")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep corpus and warehouse under bench-out/")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args()

    from newsetl.config import Settings
    from newsetl.pipeline import run_pipeline

    base = Path("bench-out") if args.keep else Path(tempfile.mkdtemp(prefix="newsetl-bench-"))
    shutil.rmtree(base, ignore_errors=True)
    landing, wh = base / "landing", base / "warehouse"
    t = time.perf_counter()
    counts = generate(landing, args.articles)
    gen_s = time.perf_counter() - t
    size = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file())
    print(f"corpus: {args.articles} articles, {size / 1e6:.1f} MB, {counts} (generated in {gen_s:.1f} s)")

    overrides = {k: v for k, v in {"workers": args.workers, "batch_size": args.batch_size}.items() if v}
    settings = Settings.from_env(landing=landing, warehouse=wh, **overrides)
    with PeakMemory() as mem:
        t = time.perf_counter()
        summary = run_pipeline(settings, log=lambda m: print("  " + m, file=sys.stderr))
        total = time.perf_counter() - t
    n = summary.records_in
    print(
        f"\nend to end: {n} records in {total:.1f} s = {n / total:.0f} articles/s "
        f"(workers={settings.workers}, batch={settings.batch_size}, cpus={os.cpu_count()})"
    )
    for stage, secs in summary.stage_seconds.items():
        print(f"  {stage:26s} {secs:8.2f} s  {n / secs if secs else float('inf'):10.0f} articles/s")
    print(
        f"loaded {summary.articles_loaded}, exact dups {summary.exact_duplicates}, near dups "
        f"{summary.near_duplicates}, quarantined {summary.quarantined}"
    )
    print(
        f"peak RSS: total {mem.peak_total / 2**20:.0f} MiB (parent {mem.peak_parent / 2**20:.0f} MiB, "
        f"largest worker {mem.peak_child / 2**20:.0f} MiB)"
    )
    if args.json:
        print(
            json.dumps(
                {
                    "articles": n,
                    "seconds": total,
                    "articles_per_s": n / total,
                    "stage_seconds": summary.stage_seconds,
                    "peak_rss_mib": mem.peak_total / 2**20,
                }
            )
        )
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
