"""Write the project's sample landing folder (samples/landing). Every text here was written for newsetl.

The folder exercises every stage: both text layouts and plain Title/Body, JSON, JSONL, HTML, gzip,
nine languages, an exact duplicate file, a syndicated exact copy, a near duplicate with small edits,
boilerplate and site chrome, mojibake, a cp1251 file, a malformed JSONL line, a record with no title
and one with a publication date in the future.

    python samples/build_samples.py        # rewrites samples/landing deterministically
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

OUT = Path(__file__).resolve().parent / "landing"

TRAM_EN = [
    "The city council of Lviv approved on Thursday a plan to extend the northern tram line by four kilometres, "
    "connecting the Holosko district with the central railway station for the first time since the 1980s.",
    "Construction is expected to start in the spring and to last about eighteen months. The project will be "
    "financed by a long-term loan from a European development bank and by the municipal budget.",
    "Deputy mayor Oksana Hrytsenko said the new line would cut the average commute from the northern suburbs by "
    "twenty minutes and take around three thousand cars off the road every working day.",
    "Residents of the district have asked for a reliable connection for years. Buses on the route are often "
    "overcrowded in the morning, and the winding road through the hills is regularly blocked by traffic.",
    "The council also agreed to buy twelve low-floor trams from a domestic manufacturer. The first vehicles are "
    "due to arrive before the line opens, so that drivers can be trained on the existing network.",
]

HARBOUR_PT = [
    "A prefeitura de Santos anunciou nesta sexta-feira um plano para transformar o antigo armazém do porto em um "
    "centro cultural com biblioteca, salas de ensaio e um mercado de produtores locais.",
    "O projeto prevê a recuperação da fachada de tijolos, construída no início do século passado, e a abertura de "
    "uma passarela para pedestres ao longo do cais, hoje fechado ao público.",
    "Segundo a secretária de cultura, Marina Duarte, as obras devem começar no segundo semestre e custar cerca de "
    "quarenta milhões de reais, divididos entre o município e patrocinadores privados.",
    "Moradores do centro histórico comemoraram a notícia, mas pedem que o espaço tenha horários amplos e "
    "atividades gratuitas para crianças e idosos durante toda a semana.",
]

BAHN_DE = [
    "Die Deutsche Bahn will bis zum Sommer alle Regionalzüge zwischen Hannover und Bremen mit kostenlosem WLAN "
    "ausstatten. Das teilte ein Sprecher des Unternehmens am Mittwoch mit.",
    "Nach Angaben der Bahn sollen dafür rund zweihundert Wagen umgerüstet werden. Die Arbeiten finden nachts in "
    "den Werkstätten statt, damit der Fahrplan nicht eingeschränkt werden muss.",
    "Fahrgastverbände begrüßten die Pläne, forderten aber zugleich mehr Pünktlichkeit. Im vergangenen Jahr war "
    "fast jeder dritte Zug auf der Strecke mit Verspätung unterwegs.",
]

FESTIVAL_FR = [
    "La ville de Nantes accueillera au printemps prochain un festival consacré aux musiques des fleuves, avec une "
    "quarantaine de concerts gratuits installés sur des péniches le long de la Loire.",
    "Les organisateurs espèrent attirer plus de cent mille visiteurs pendant les trois jours de la manifestation. "
    "Des ateliers pour les enfants et des marchés de producteurs sont également prévus sur les quais.",
    "La mairie a précisé que la circulation serait limitée dans le centre-ville et que des navettes "
    "supplémentaires relieraient la gare aux principaux sites du festival.",
]

WATER_ES = [
    "El Ayuntamiento de Valencia presentó este martes un plan para reducir en un veinte por ciento el consumo de "
    "agua en los parques y jardines públicos durante los próximos cinco años.",
    "La medida incluye la instalación de sensores de humedad en el suelo, el uso de especies autóctonas que "
    "necesitan menos riego y la reutilización del agua depurada en las zonas verdes más grandes.",
    "La concejala de medio ambiente explicó que el ahorro previsto equivale al consumo anual de unas seis mil "
    "viviendas y que los primeros sensores se instalarán en el antiguo cauce del río Turia.",
]

LIBRARY_RU = [
    "Национальная библиотека в Риге завершила оцифровку крупного собрания газет, выходивших на русском языке в "
    "первой половине прошлого века. Теперь читатели могут бесплатно просматривать их в интернете.",
    "По словам сотрудников библиотеки, работа заняла почти три года. Специалисты отсканировали более двухсот "
    "тысяч страниц и вручную проверили качество распознавания текста.",
    "Проект поддержали несколько университетов, которые планируют использовать архив в исследованиях по истории "
    "города и его жителей.",
]

SOLAR_AR = [
    "أعلنت وزارة الطاقة في الأردن يوم الأحد عن افتتاح محطة جديدة للطاقة الشمسية في محافظة معان، بقدرة تكفي "
    "لتزويد نحو خمسين ألف منزل بالكهرباء.",
    "وقال المتحدث باسم الوزارة إن المشروع استغرق عامين، وإنه سيساعد على خفض فاتورة استيراد الوقود وتقليل "
    "الانبعاثات في المملكة خلال السنوات المقبلة.",
    "وأضاف أن الحكومة تخطط لإطلاق مناقصات جديدة لمشاريع تخزين الطاقة بالبطاريات قبل نهاية العام المقبل.",
]

RAIL_ZH = [
    "据报道，连接成都和重庆的新一条高速铁路线路于本周一开始试运行，两地之间的最短旅行时间将缩短到一个小时以内。",
    "铁路部门表示，试运行期间将对信号系统、供电设备和车站服务进行全面检测，预计明年年初正式开通运营。",
    "当地居民和企业对新线路表示欢迎，认为它将进一步促进两座城市之间的人员往来和经济合作。",
]

PORT_EN = [
    "The port authority of Rotterdam said on Monday that container traffic rose by six percent in the third "
    "quarter, helped by a recovery in trade with Asia and the reopening of a renovated terminal.",
    "The terminal, which was closed for most of last year, can now handle the largest container ships in service "
    "and uses electric cranes powered by a wind farm on the edge of the harbour.",
    "Port officials said they expected growth to slow in the coming months as shipping companies adjust their "
    "schedules, but that the long-term outlook remained positive.",
    "Trade unions welcomed the figures and asked for new hiring at the terminal, where workers have complained "
    "about long shifts since the reopening.",
    "The authority plans to publish its full annual report in March, including figures on emissions and on the "
    "share of cargo moved by rail and inland barges instead of trucks.",
]

MUSEUM_IT = [
    "Il museo archeologico di Napoli riaprirà a dicembre la sezione dedicata ai mosaici, chiusa da due anni per "
    "lavori di restauro e per l'installazione di un nuovo impianto di illuminazione.",
    "Secondo la direzione, i visitatori potranno vedere per la prima volta alcuni frammenti rimasti finora nei "
    "depositi, accompagnati da pannelli in quattro lingue e da una guida audio gratuita.",
    "L'ingresso alla sezione sarà incluso nel biglietto ordinario e il museo resterà aperto fino a tarda sera il "
    "venerdì e il sabato durante le feste.",
]

GRAIN_UK = [
    "Уряд України схвалив програму відновлення зерносховищ у прифронтових областях. На ці цілі передбачено "
    "кошти державного бюджету та грантові програми міжнародних партнерів.",
    "Як повідомили в міністерстві аграрної політики, у першу чергу відремонтують елеватори, які постраждали "
    "від обстрілів у Харківській та Миколаївській областях.",
    "Фермери сподіваються, що нові сховища дозволять зберегти врожай до весни і продавати зерно за кращими "
    "цінами, ніж одразу після збору.",
]

BRIDGE_UK = [
    "У Дніпрі завершили ремонт пішохідного мосту через затоку, який був закритий для відвідувачів понад рік. "
    "Міст отримав нове покриття, освітлення та пандуси для людей з інвалідністю.",
    "Міська рада повідомила, що роботи коштували близько тридцяти мільйонів гривень і були виконані на місяць "
    "раніше запланованого строку.",
    "Мешканці лівого берега зможуть швидше дістатися до набережної, а ввечері на мосту працюватимуть "
    "невеликі ярмарки місцевих виробників.",
]


def paras(lines: list[str]) -> str:
    return "\n\n".join(lines)


def near_copy(lines: list[str]) -> list[str]:
    """The same story with a few words changed, as a second outlet re-publishing it would."""
    edited = list(lines)
    edited[2] = edited[2].replace("twenty minutes", "almost half an hour").replace("three thousand", "3,000")
    return edited


def html_page(*, title: str, site: str, url: str, lang: str, date: str, author: str, body: list[str]) -> str:
    nav = "".join(f'<li><a href="/{s}">{s.title()}</a></li>' for s in ("world", "business", "culture", "sport"))
    ps = "\n".join(f"<p>{p}</p>" for p in body)
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<title>{title} | {site}</title>
<link rel="canonical" href="{url}">
<meta property="og:site_name" content="{site}">
<meta property="og:title" content="{title}">
<meta name="author" content="{author}">
<meta property="article:published_time" content="{date}">
</head>
<body>
<header><a href="/">{site}</a><nav><ul>{nav}</ul></nav></header>
<div class="cookie-banner">This website uses cookies to improve your experience. Accept all cookies</div>
<main>
<article>
<h1>{title}</h1>
<p class="byline">By {author}</p>
<time datetime="{date}">{date[:10]}</time>
{ps}
</article>
<aside><h3>Most read</h3><ul><li><a href="/a">Weather warning for the weekend</a></li>
<li><a href="/b">Local team wins the cup</a></li></ul></aside>
</main>
<footer><p>All rights reserved.</p><a href="/privacy">Privacy policy</a> <a href="/contact">Contact us</a></footer>
</body>
</html>
"""


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    files: dict[str, bytes] = {}

    # Layout A: header line, outlet line, title, title again, keyword line, body.
    title = "Lviv Approves Four-Kilometre Extension Of Northern Tram Line"
    files["ukrainian-news/2026-11-20_lviv-tram.txt"] = (
        f"Society 2026-11-20T09:15:00+02:00\nUkrainian news\n{title}\n\n{title}\n\n"
        "Lviv, trams, public transport, city council, infrastructure, loans\n\n" + paras(TRAM_EN)
    ).encode()
    title_uk = "Уряд схвалив програму відновлення зерносховищ"
    files["ukrainian-news/2026-11-19_grain.txt.gz"] = gzip.compress(
        (
            f"Економіка 2026-11-19T18:40:00+02:00\nУкраїнські Новини\n{title_uk}\n\n{title_uk}\n\n"
            "зерно, елеватори, аграрна політика, відновлення\n\n" + paras(GRAIN_UK)
        ).encode(),
        mtime=0,
    )

    # Layout B: junk caption line, title, body, trailers and site chrome.
    harbour = (
        "untitled design\n\nAntigo armazém do porto de Santos vai virar centro cultural\n\n"
        + paras(HARBOUR_PT)
        + "\n\n(Posted by Ana Ribeiro)\n\nSource: CNN Brasil\n\nYou may also like\n\nMost popular\n"
    ).encode()
    files["cnn-brasil/santos-armazem.txt"] = harbour
    files["cnn-brasil/santos-armazem (copy).txt"] = harbour  # the same file dropped twice: exact duplicate

    # Plain "Title\n\nBody"; the outlet comes from the landing sub-folder.
    files["tagesschau/bahn-wlan.txt"] = ("Bahn rüstet Regionalzüge mit WLAN aus\n\n" + paras(BAHN_DE)).encode()
    # A Russian text saved in cp1251 by an old scraper: decoded by detection, not by guessing.
    files["meduza/riga-library.txt"] = ("Библиотека в Риге оцифровала архив газет\n\n" + paras(LIBRARY_RU)).encode(
        "cp1251"
    )

    # JSONL feed: several outlets and languages, one syndicated exact copy, a near copy, one broken line.
    jsonl = [
        {
            "headline": "Nantes prépare un festival des musiques fluviales",
            "body": paras(FESTIVAL_FR),
            "link": "https://www.lemonde.fr/culture/article/2026/11/20/nantes-festival-fleuves.html",
            "source": "Le Monde",
            "publish_date": "2026-11-20T07:30:00+01:00",
            "lang": "fr",
            "tags": ["culture", "Nantes", "musique"],
            "section": "Culture",
            "author": "Claire Martin",
        },
        {
            "title": "Valencia reducirá un 20% el agua de riego en sus parques",
            "text": paras(WATER_ES),
            "url": "https://elpais.com/espana/2026-11-19/valencia-agua-parques.html",
            "site_name": "El País",
            "published_at": "Thu, 19 Nov 2026 10:05:00 +0100",
            "authors": [{"name": "Javier Soler"}],
            "keywords": "Valencia, agua, medio ambiente",
        },
        {
            "title": "Jordan opens a new solar plant in Ma'an",
            "content": paras(SOLAR_AR),
            "url": "https://www.aljazeera.net/news/2026/11/18/solar-maan",
            "source": {"name": "Al Jazeera"},
            "date": "2026-11-18T12:00:00Z",
            "language": "ar",
        },
        {
            "title": "成渝新高铁开始试运行",
            "articleBody": paras(RAIL_ZH),
            "url": "http://www.news.cn/2026-11/17/c_rail.htm",
            "publisher": "新华社",
            "datePublished": "2026-11-17 08:00:00+08:00",
        },
        # Advertising and related-links chrome inside the body, removed by the boilerplate rules.
        {
            "title": "Rotterdam container traffic up six percent",
            "text": "Advertisement\n\n"
            + paras(PORT_EN[:3])
            + "\n\nRead more: Port strikes end after two days\n\n"
            + paras(PORT_EN[3:])
            + "\n\nShare this article\n\nMost read\n\nWeather warning for the weekend",
            "url": "https://www.reuters.com/business/rotterdam-port-q3-2026-11-16/",
            "source": "Reuters",
            "published_at": "2026-11-16T15:45:00Z",
            "author": "Reporting by Pieter de Vries",
        },
        '{"title": "Broken record", "text": "this line was cut off by the scraper',
        # A wire story syndicated verbatim by a second outlet: exact duplicate of the Reuters record.
        {
            "title": "Rotterdam port traffic rises",
            "text": paras(PORT_EN),
            "url": "https://www.cnn.com/2026/11/17/rotterdam-port",
            "source": "CNN",
            "published_at": "2026-11-17T09:00:00Z",
        },
        # A Kurdish item: langdetect has no Kurdish profile, so the feed's language is used.
        {
            "title": "زانکۆی کۆیە کۆنفرانسێکی نێودەوڵەتی ڕێکدەخات",
            "text": "زانکۆی کۆیە ڕایگەیاند کە مانگی داهاتوو کۆنفرانسێکی نێودەوڵەتی دەربارەی زانستی ئاو و ژینگە ڕێکدەخات "
            "و توێژەرانی چەندین وڵات بەشداری تێدا دەکەن.",
            "url": "https://koyauniversity.org/ckb/node/9001",
            "source": "Koya University",
            "lang": "ckb",
        },
    ]
    files["feeds/wire-2026-11-20.jsonl"] = (
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in jsonl).encode() + b"\n"
    )

    # JSON array, gzipped: a near copy (two phrases edited), mojibake, a missing title, a future date.
    mojibake = paras(MUSEUM_IT).encode("utf-8").decode("latin-1")  # UTF-8 read as Latin-1: "Ã¨" for "è"
    evening = {
        "items": [
            {
                "title": "Lviv extends its northern tram line",
                "text": paras(near_copy(TRAM_EN)),
                "url": "https://www.ukrinform.net/rubric-society/lviv-tram-line",
                "source": "Ukrinform",
                "published_at": "2026-11-20T14:00:00+02:00",
            },
            {
                "title": "Napoli, riapre la sezione dei mosaici del museo archeologico",
                "text": mojibake,
                "url": "https://www.ansa.it/campania/notizie/2026/11/19/napoli-mosaici.html",
                "source": "ANSA",
                "published_at": "2026-11-19T17:20:00+01:00",
                "language": "it",
            },
            {"title": "", "text": paras(BRIDGE_UK), "source": "UNIAN", "published_at": "2026-11-18T10:00:00+02:00"},
            {
                "title": "У Дніпрі відкрили відремонтований пішохідний міст",
                "text": paras(BRIDGE_UK),
                "url": "https://www.unian.ua/dnipro-bridge",
                "source": "UNIAN",
                "published_at": "2031-01-01T10:00:00+02:00",
            },
        ]
    }
    files["feeds/evening-2026-11-20.json.gz"] = gzip.compress(
        json.dumps(evening, ensure_ascii=False, indent=1).encode(), mtime=0
    )
    files["feeds/single-2026-11-21.json"] = json.dumps(
        {
            "title": "Deutsche Bahn: mehr Züge im Winterfahrplan",
            "content": "Die Bahn setzt im Winterfahrplan zusätzliche Züge zwischen Berlin und Hamburg ein. "
            "Nach Angaben des Unternehmens fahren die Züge künftig jede halbe Stunde, am Wochenende "
            "sogar häufiger. Fahrgastverbände sprachen von einem wichtigen Schritt.",
            "url": "https://www.tagesschau.de/wirtschaft/bahn-winterfahrplan.html",
            "date": "2026-11-21T06:00:00+01:00",
        },
        ensure_ascii=False,
    ).encode()

    # Saved HTML pages, one gzipped; extracted with trafilatura.
    files["pages/riverside-gazette-port.html"] = html_page(
        title="Harbour ferry service to resume after winter repairs",
        site="Riverside Gazette",
        url="https://riverside-gazette.example/news/harbour-ferry",
        lang="en",
        date="2026-11-15T08:00:00+00:00",
        author="Tom Hallett",
        body=[
            "The harbour ferry between the old town and the island will resume service on Saturday after six weeks "
            "of repairs to its engines and landing stages, the operator said.",
            "Passengers will find a new timetable with more departures in the morning and a late boat on Fridays. "
            "Tickets bought before the repairs remain valid until the end of the year.",
            "The operator thanked residents for their patience and said the work would make the service more "
            "reliable during the storms that often hit the coast in January.",
        ],
    ).encode()
    files["pages/lemonde-nantes.html.gz"] = gzip.compress(
        html_page(
            title="À Nantes, la Loire devient une scène de concert",
            site="Le Monde",
            url="https://www.lemonde.fr/culture/article/2026/11/21/nantes-loire-concert.html",
            lang="fr",
            date="2026-11-21T11:00:00+01:00",
            author="Claire Martin",
            body=[
                "Des péniches transformées en scènes flottantes, des chorales sur les quais et des concerts au lever "
                "du soleil : la ville de Nantes a présenté vendredi le programme détaillé de son festival.",
                "Les artistes viendront de toute l'Europe, mais aussi du Sénégal et du Brésil, pour rendre hommage "
                "aux musiques nées au bord des fleuves. La plupart des spectacles seront gratuits.",
                "Les habitants des quartiers riverains seront associés à l'organisation, notamment pour l'accueil "
                "des musiciens et la décoration des bateaux.",
            ],
        ).encode(),
        mtime=0,
    )

    for rel, data in files.items():
        path = OUT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    print(f"wrote {len(files)} files to {OUT}")


if __name__ == "__main__":
    main()
