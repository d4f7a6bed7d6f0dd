"""Benchmark: generate a corpus of N made-up articles, ingest it, print articles/s per stage and peak memory.

    python benchmarks/bench.py --articles 20000            # plain pipeline, 2 workers
    python benchmarks/bench.py --articles 100000 --keep    # keep the corpus and warehouse in bench-out/
    python benchmarks/bench.py --articles 4000 --cluster local   # parse and tag on a Dask LocalCluster
    python benchmarks/bench.py --articles 1000000 --no-bound --corpus /var/tmp/c1m   # generate once, reuse

The corpus mixes formats (JSONL 60%, gzipped JSON arrays 15%, text files 15% in both layouts,
HTML pages 10%), ten languages in a world news feed's mix (40% English), log-normal article lengths
(median about 30 sentences, ~450 words), and duplicate rates (5% exact copies, 5% near copies with a
sentence changed).

It also measures the langdetect bound in the same run: stock langdetect (seeded) over the full texts
of the loaded articles on every core, and prints the pipeline's speed against it and how often the
two agree on the language. Text is word salad from small per-language word lists written for this
script: realistic enough for langdetect, MinHash and the cleaner to do their real work.
Peak memory is sampled every 0.1 s over this process and its worker processes (psutil).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import itertools
import json
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import zlib
from datetime import datetime, timedelta
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


FUNCTION_WORDS = 15  # the first words of each list are its function words (the, of, and / der, die, und ...)
VOCABULARY = 8000  # content words per language: news uses thousands, not the few dozen of the lists above


@functools.cache
def vocabulary(lang: str) -> tuple[list[str], list[float]]:
    """Content words for `lang` and their cumulative Zipf weights.

    Words are made of two to four pieces (two or three letters) of the listed words, so they keep the
    language's letter n-grams (langdetect still reads the language) while there are thousands of them,
    as in real news. Chinese words are two or three characters.
    """
    rng = random.Random(sum(map(ord, lang)))
    words = WORDS[lang][FUNCTION_WORDS:]
    if lang == "zh":
        # The listed characters plus 1,500 more CJK ideographs: news uses thousands of characters.
        chars = sorted({c for w in words for c in w} | {chr(0x4E00 + 7 * k) for k in range(1500)})
        make = lambda: "".join(rng.choices(chars, k=rng.choice((2, 2, 3))))  # noqa: E731
    elif lang == "ar":  # few, short listed words: letters of the listed words, four to seven of them
        letters = sorted({c for w in words for c in w})
        make = lambda: "".join(rng.choices(letters, k=rng.randint(4, 7)))  # noqa: E731
    else:
        pieces = sorted({w[i : i + n] for w in words for n in (2, 3) for i in range(0, max(1, len(w) - n + 1), 2)})
        make = lambda: "".join(rng.choices(pieces, k=rng.choice((2, 3, 3, 4))))  # noqa: E731
    vocab: set[str] = set()
    for _ in range(VOCABULARY * 20):
        if len(vocab) >= VOCABULARY:
            break
        vocab.add(make())
    ordered = sorted(vocab)
    rng.shuffle(ordered)
    weights = list(itertools.accumulate(1.0 / (rank + 1) ** 1.05 for rank in range(len(ordered))))
    return ordered, weights


def sentence(rng: random.Random, lang: str, topic: list[str] | None = None, topic_share: float = 0.12) -> str:
    vocab, weights = vocabulary(lang)
    n = rng.randint(8, 18)
    out = rng.choices(vocab, cum_weights=weights, k=n)
    function = WORDS[lang][:FUNCTION_WORDS]
    for j in range(n):
        r = rng.random()
        if r < 0.45:
            out[j] = rng.choice(function)
        elif topic and r < 0.45 + topic_share:
            out[j] = rng.choice(topic)
    if lang == "zh":
        return "".join(out) + "。"
    s = " ".join(out)
    return s[0].upper() + s[1:] + "."


# A world news feed's language mix (share of articles), over the languages this script has words for.
LANGUAGE_MIX = {"en": 40, "es": 11, "fr": 8, "de": 8, "ru": 7, "pt": 6, "ar": 6, "zh": 6, "it": 5, "uk": 3}
STORY_FOLLOW_UP = 0.35  # share of new articles that report a story already in the feed (another outlet, a day later)


class Stories:
    """The stories of the corpus: each has a language, a day and a dozen words of its own (names, places)."""

    def __init__(self) -> None:
        self.open: list[dict] = []
        self.count = 0

    def pick(self, rng: random.Random) -> dict:
        if self.open and rng.random() < STORY_FOLLOW_UP:
            return rng.choice(self.open[-400:])
        lang = rng.choices(list(LANGUAGE_MIX), weights=list(LANGUAGE_MIX.values()))[0]
        vocab, _ = vocabulary(lang)
        story = {
            "id": self.count,
            "lang": lang,
            "topic": rng.sample(vocab[len(vocab) // 4 :], 12),  # rarer words: what makes a story its own
            "day": rng.randint(0, 270),
        }
        self.count += 1
        self.open.append(story)
        return story


def article(rng: random.Random, i: int, stories: Stories | None = None) -> dict:
    story = (stories or Stories()).pick(rng)
    lang = story["lang"]
    # News article lengths are log-normal: median about 450 words (~30 sentences), a long tail past 2,000.
    sentences = max(3, min(200, int(rng.lognormvariate(3.4, 0.6))))
    paras, left = [], sentences
    while left > 0:
        k = min(left, rng.randint(2, 5))
        paras.append(" ".join(sentence(rng, lang, story["topic"]) for _ in range(k)))
        left -= k
    day = datetime(2026, 1, 1) + timedelta(
        days=story["day"] + rng.choice((0, 0, 0, 1, 1, 2, 3)), hours=rng.randint(0, 23)
    )
    return {
        "title": f"{sentence(rng, lang, story['topic'], 0.35)[:-1]} {i}",
        "text": "\n\n".join(paras),
        "url": f"https://news{rng.randint(1, 40)}.example/{lang}/{i}",
        "source": rng.choice(OUTLETS),
        "published_at": day.strftime("%Y-%m-%dT%H:00:00+01:00"),
        "language": lang if rng.random() < 0.3 else None,
        "lang_true": lang,  # not a feed field newsetl reads; lets near copies stay in one language
        "story_true": story["id"],  # nor this one: the story label the B-cubed check compares with
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


# Share of saved pages that state their publication time in their head (article:published_time, JSON-LD,
# <time datetime>): 159 of the 181 real pages of the scrapinghub extraction benchmark (88 %). The others
# send trafilatura's date search through the whole text, a third of an extraction's time.
HTML_DATED = 0.88
# Bumped whenever the generator writes a different corpus: a --corpus folder of another version is made again.
CORPUS_VERSION = 2  # 2: 88 % of the HTML pages state their publication time


def as_html(a: dict) -> str:
    body = "".join(f"<p>{p}</p>" for p in a["text"].split("\n\n"))
    # Which pages are dated follows the URL, not the generator's random stream: the rest of the corpus is
    # the one earlier benchmarks generated.
    dated = zlib.crc32(a["url"].encode()) % 100 < HTML_DATED * 100
    stamp = f'<meta property="article:published_time" content="{a["published_at"]}">' if dated else ""
    return (
        f'<html><head><title>{a["title"]}</title><link rel="canonical" href="{a["url"]}">{stamp}'
        f'<meta property="og:site_name" content="{a["source"]}"></head><body><nav><a href="/">Home</a></nav>'
        f"<article><h1>{a['title']}</h1>{body}</article><footer>All rights reserved.</footer></body></html>"
    )


def generate(landing: Path, n: int, seed: int = 7) -> dict:
    """Write n articles into landing; return the counts by format and duplicate kind, and story labels by URL."""
    rng = random.Random(seed)
    landing.mkdir(parents=True, exist_ok=True)
    made: list[dict] = []
    stories = Stories()
    labels: dict[str, int] = {}
    counts: dict = {"jsonl": 0, "json.gz": 0, "txt": 0, "html": 0, "exact": 0, "near": 0}
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
            a = article(rng, i, stories)
            labels[a["url"]] = a["story_true"]
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
    counts["stories"] = stories.count
    counts["labels"] = labels
    return counts


class PeakMemory:
    """Samples RSS of this process plus its children every `interval` seconds."""

    def __init__(self, interval: float = 0.1) -> None:
        import psutil

        self.proc = psutil.Process()
        self.interval = interval
        self.peak_total = self.peak_parent = self.peak_child = 0
        self.stage_total = self.stage_parent = 0  # since the last `stage()` call
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
                self.stage_total = max(self.stage_total, parent + sum(kids))
                self.stage_parent = max(self.stage_parent, parent)
            except psutil.Error:
                pass
            self._stop.wait(self.interval)

    def stage(self) -> str:
        """The peak RSS since the last call (all processes, and this one), and start again."""
        line = f"peak {self.stage_total / 2**20:.0f} MiB, parent {self.stage_parent / 2**20:.0f} MiB"
        self.stage_total = self.stage_parent = 0
        return line

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def story_quality(wh: Path, labels: dict[str, int]) -> dict:
    """B-cubed precision, recall and F1 of the warehouse's stories against the corpus's story labels."""
    from newsetl.warehouse import connect

    con = connect(wh, reports=False)
    try:
        rows = con.execute("SELECT url, current_story_id FROM articles").fetchall()
        rows += con.execute(
            "SELECT d.url, a.current_story_id FROM duplicates d JOIN articles a ON a.article_id = d.duplicate_of"
        ).fetchall()
    finally:
        con.close()
    pairs = [(labels[u.split("?")[0]], s) for u, s in rows if u and u.split("?")[0] in labels]
    by_label: dict[int, list[str]] = {}
    by_story: dict[str, list[int]] = {}
    for label, story in pairs:
        by_label.setdefault(label, []).append(story)
        by_story.setdefault(story, []).append(label)
    from collections import Counter

    both = Counter(pairs)
    precision = sum(k * k / len(by_story[s]) for (_, s), k in both.items()) / len(pairs) if pairs else 1.0
    recall = sum(k * k / len(by_label[lab]) for (lab, _), k in both.items()) / len(pairs) if pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "articles": len(rows),
        "labelled": len(pairs),
        "stories": len(by_story),
    }


def _stock_detect(text: str) -> str:
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0
    try:
        return detect(text)
    except LangDetectException:
        return "und"


def langdetect_bound(wh: Path, processes: int) -> dict:
    """Stock langdetect (seeded) over the loaded articles' full texts on `processes` cores: speed and agreement."""
    import multiprocessing

    from newsetl.warehouse import connect

    con = connect(wh, reports=False)
    try:
        rows = con.execute("SELECT coalesce(title, '') || '\n\n' || text, language FROM articles").fetchall()
    finally:
        con.close()
    texts = [t for t, _ in rows]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        pool.map(_stock_detect, ["warm up the profiles"] * processes)
        t = time.perf_counter()
        stock = pool.map(_stock_detect, texts, chunksize=64)
        secs = time.perf_counter() - t
    same = sum(1 for (_, mine), theirs in zip(rows, stock, strict=True) if _norm(mine) == _norm(theirs))
    return {
        "articles": len(texts),
        "processes": processes,
        "seconds": secs,
        "articles_per_s": len(texts) / secs if secs else float("inf"),
        "agreement": same / len(texts) if texts else 1.0,
    }


def _norm(code: str | None) -> str:
    return (code or "und").split("-")[0].lower()  # stock says zh-cn / zh-tw where newsetl says zh


def _generate_to(landing: Path, n: int, out: Path) -> None:
    """Generate the corpus; write its counts and story labels to `out` (JSON)."""
    counts = generate(landing, n)
    out.write_text(json.dumps({"articles": n, "version": CORPUS_VERSION, **counts}))


def _counts(made: Path) -> dict:
    """Return the corpus file's counts without its story labels."""
    counts = json.loads(made.read_text())
    counts.pop("labels", None)
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=None, help="worker processes (default: settings, 2 here)")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--cluster", default=None, help="`local` or a Dask scheduler address (default: $NEWSETL_CLUSTER)")
    ap.add_argument("--keep", action="store_true", help="keep corpus and warehouse under bench-out/")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    ap.add_argument("--no-bound", action="store_true", help="skip measuring stock langdetect over the corpus")
    ap.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="generate the corpus here once and reuse it on later runs (a fresh warehouse each run)",
    )
    args = ap.parse_args()

    from newsetl.config import Settings
    from newsetl.pipeline import run_pipeline

    base = Path("bench-out") if args.keep else Path(tempfile.mkdtemp(prefix="newsetl-bench-"))
    shutil.rmtree(base, ignore_errors=True)
    landing, wh = (args.corpus or base) / "landing", base / "warehouse"
    made = landing.parent / "corpus.json"
    t = time.perf_counter()
    # Only the counts are kept: the story labels (a URL per article) would sit in this process throughout
    # the run and count as the pipeline's memory (135 MiB at 1,000,000 articles).
    have = _counts(made) if args.corpus and made.exists() else {}
    if (have.get("articles"), have.get("version")) != (args.articles, CORPUS_VERSION):
        shutil.rmtree(landing, ignore_errors=True)
        # In a child process: the generator's memory (a story label per article) is not the pipeline's.
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            pool.apply(_generate_to, (landing, args.articles, made))
    gen_s = time.perf_counter() - t
    size = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file())
    counts = _counts(made)
    counts.pop("version", None)
    print(f"corpus: {counts.pop('articles')} articles, {size / 1e6:.1f} MB, {counts} (ready in {gen_s:.1f} s)")

    overrides = {
        k: v for k, v in {"workers": args.workers, "batch_size": args.batch_size, "cluster": args.cluster}.items() if v
    }
    settings = Settings.from_env(landing=landing, warehouse=wh, **overrides)
    with PeakMemory() as mem:
        t = time.perf_counter()
        # Each log line ends a stage: it shows the stage's peak memory (all processes, and the parent).
        summary = run_pipeline(settings, log=lambda m: print(f"  {m} [{mem.stage()}]", file=sys.stderr))
        total = time.perf_counter() - t
    n = summary.records_in
    print(
        f"\nend to end: {n} records in {total:.1f} s = {n / total:.0f} articles/s "
        f"(workers={settings.workers}, batch={settings.batch_size}, cpus={os.cpu_count()}"
        f"{', cluster=' + settings.cluster if settings.cluster else ''})"
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
    labels = {u: int(k) for u, k in json.loads(made.read_text())["labels"].items()}
    quality = story_quality(wh, labels)
    print(
        f"stories: B-cubed precision {quality['precision']:.3f}, recall {quality['recall']:.3f}, "
        f"F1 {quality['f1']:.3f} over {quality['articles']} pieces in {quality['stories']} stories "
        f"({quality['labelled']} labelled)"
    )
    bound = None if args.no_bound else langdetect_bound(wh, settings.workers)
    if bound:
        print(
            f"langdetect bound: stock langdetect over {bound['articles']} full texts on {bound['processes']} "
            f"processes in {bound['seconds']:.1f} s = {bound['articles_per_s']:.0f} articles/s\n"
            f"  pipeline vs bound: {n / total / bound['articles_per_s']:.2f}x; "
            f"same language as stock langdetect: {bound['agreement']:.2%} of {bound['articles']} articles"
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
                    "bound": bound,
                    "stories": quality,
                }
            )
        )
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
