"""HTML pages of the sandbox's sites: realistic homepages assembled from shared, pre-encoded blocks.

A homepage is a site-specific head (title, nav, charset declaration), a run of filler blocks
(nav lists, product cards, inline CSS/JS) shared by every site and encoded once per charset,
the site's own sections (signals, traps) and its footer. Building one is a few byte joins, so
a 100,000-site world keeps no bodies in memory: the farm calls :func:`render_home` on request.

The filler deliberately contains no filing numbers and none of the words that mark e-commerce,
forum or news features; those appear only where the scenario puts them.
"""

from __future__ import annotations

import html
import random
from dataclasses import dataclass
from functools import lru_cache

# Python codec per charset the sandbox serves; "big5" pages use traditional text.
CODECS = {"utf-8": "utf-8", "gbk": "gbk", "gb2312": "gbk", "gb18030": "gb18030", "big5": "big5"}

_SIMPLIFIED = (
    "我们专注于企业数字化解决方案，为客户提供稳定可靠的技术服务",
    "产品中心汇集了多年积累的行业经验，覆盖制造、物流与能源等领域",
    "公司秉承诚信、创新、共赢的理念，持续提升服务品质",
    "技术团队由资深工程师组成，拥有丰富的系统集成与运维经验",
    "全国设有多个服务网点，可为客户提供及时的上门支持",
    "解决方案涵盖数据中心建设、云平台迁移与网络安全加固",
    "客户案例包括多家大型企业与科研院所，获得广泛好评",
    "欢迎合作伙伴洽谈业务，共同开拓市场，实现互利共赢",
    "本站内容仅供参考，具体以实际提供的服务为准",
    "春季研讨会圆满落幕，与会专家围绕智能制造展开深入交流",
    "质量管理体系通过认证，确保每一个交付环节可追溯",
    "人才招聘：诚聘前端工程师、测试工程师与项目经理若干名",
)
_TRADITIONAL = (
    "我們專注於企業數碼化方案，為客戶提供穩定可靠的技術服務",
    "產品中心匯集了多年累積的行業經驗，涵蓋製造、物流與能源等領域",
    "公司秉承誠信、創新、共贏的理念，持續提升服務質素",
    "技術團隊由資深工程師組成，擁有豐富的系統整合與維運經驗",
    "本地設有多個服務據點，可為客戶提供及時的到場支援",
    "方案涵蓋數據中心建設、雲端平台遷移與網絡安全強化",
    "客戶案例包括多家大型企業與研究機構，獲得廣泛好評",
    "歡迎合作夥伴洽談業務，共同開拓市場，實現互利共贏",
    "本網站內容僅供參考，具體以實際提供的服務為準",
    "春季研討會圓滿結束，與會專家圍繞智能製造展開深入交流",
)
_NAV_S = (
    "首页",
    "关于我们",
    "产品中心",
    "解决方案",
    "客户案例",
    "服务支持",
    "人才招聘",
    "联系我们",
)
_NAV_T = (
    "首頁",
    "關於我們",
    "產品中心",
    "解決方案",
    "客戶案例",
    "服務支援",
    "人才招聘",
    "聯絡我們",
)

_CSS = (
    "body{margin:0;font:14px/1.6 'PingFang SC','Microsoft YaHei',sans-serif;color:#333}"
    ".top{height:64px;background:#fff;box-shadow:0 1px 4px rgba(0,0,0,.08)}"
    ".nav a{display:inline-block;padding:0 18px;line-height:64px;color:#222}"
    ".card{float:left;width:23%;margin:1%;border:1px solid #eee;border-radius:4px}"
    ".card h3{font-size:16px;margin:12px}.card p{margin:0 12px 12px;color:#666}"
    ".footer{clear:both;padding:24px 0;background:#2b2b2b;color:#999;text-align:center}"
    ".footer a{color:#999;margin:0 6px}.beian img{vertical-align:middle;width:16px}"
)
_JS = (
    "(function(){var b=document.documentElement;b.className=b.className.replace('no-js','js');"
    "window.dataLayer=window.dataLayer||[];function t(){dataLayer.push(arguments)}"
    "t('js',new Date());var s=document.createElement('script');s.async=true;"
    "s.src='/static/js/stat.min.js?v=3.2.1';document.head.appendChild(s);})();"
)


def _block_html(rng: random.Random, traditional: bool, n: int) -> str:
    text = _TRADITIONAL if traditional else _SIMPLIFIED
    nav = _NAV_T if traditional else _NAV_S
    kind = n % 4
    if kind == 0:  # a row of cards
        cards = []
        for k in range(4):
            title = nav[(n + k) % len(nav)]
            body = "，".join(rng.sample(text, 3))
            cards.append(
                f'<div class="card"><a href="/p/{n}{k}.html"><img src="/static/img/{n}_{k}.jpg"'
                f' alt="{title}" loading="lazy"></a><h3>{title}</h3><p>{body}。</p></div>'
            )
        return f'<section class="cards" id="s{n}">' + "".join(cards) + "</section>\n"
    if kind == 1:  # a list of links with dates
        items = "".join(
            f'<li><a href="/a/{2019 + (n + k) % 6}{k:02d}.html">{rng.choice(text)}</a>'
            f'<span class="d">{2019 + (n + k) % 6}-{1 + k % 12:02d}-{1 + (n * 7 + k) % 28:02d}'
            "</span></li>"
            for k in range(12)
        )
        return f'<div class="list" id="l{n}"><ul>{items}</ul></div>\n'
    if kind == 2:  # inline style + a paragraph block
        paragraphs = "".join(f"<p>{'。'.join(rng.sample(text, 4))}。</p>" for _ in range(3))
        return (
            f"<style>#b{n} .t{{color:#{rng.randrange(0x1000000):06x}}}#b{n} p{{text-indent:2em}}"
            f'</style><div class="block" id="b{n}"><h2 class="t">{nav[n % len(nav)]}</h2>'
            f"{paragraphs}</div>\n"
        )
    # an inline script with a data blob, like CMS templates embed
    data = ",".join(f'{{"id":{n * 10 + k},"w":{rng.randrange(100, 999)}}}' for k in range(40))
    return (
        f'<script>window.__slides_{n}=[{data}];(function(d){{var e=d.getElementById("s{n}");'
        f'if(e){{e.setAttribute("data-ready","1")}}}})(document);</script>\n'
    )


FILLER_BLOCKS = 48


@lru_cache(maxsize=16)
def filler(charset: str) -> tuple[bytes, ...]:
    """The shared filler blocks for one charset, encoded once (about 1.5–4 KB each)."""
    rng = random.Random("icpscan-sandbox-filler")
    traditional = charset == "big5"
    codec = CODECS[charset]
    return tuple(_block_html(rng, traditional, n).encode(codec) for n in range(FILLER_BLOCKS))


@dataclass(frozen=True)
class Page:
    """Everything site-specific about one HTML page; the farm renders it on request."""

    charset: str  # what the bytes are encoded in
    meta_charset: str | None  # what <meta charset> declares (None: no declaration)
    title: str
    traditional: bool
    blocks: tuple[int, ...]  # indices into filler()
    sections: str  # site-specific HTML before the footer (signals, traps, articles)
    footer: str  # the footer's inner HTML
    tail: str = ""  # after </footer>: SPA config scripts, comments
    head_extra: str = ""  # extra <head> content (meta refresh, meta name=icp, redirect JS)
    repeat: int = 1  # the filler run is repeated this many times (oversized bodies)
    footer_first: bool = False  # put the footer (a top "beian bar") before the filler


def render(page: Page) -> bytes:
    codec = CODECS[page.charset]
    nav = _NAV_T if page.traditional else _NAV_S
    meta = f'<meta charset="{page.meta_charset}">' if page.meta_charset else ""
    links = "".join(f'<a href="/{k}/">{name}</a>' for k, name in enumerate(nav))
    head = (
        '<!DOCTYPE html>\n<html lang="zh">\n<head>\n'
        f"{meta}\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(page.title)}</title>\n{page.head_extra}"
        f'<style>{_CSS}</style>\n<script>{_JS}</script>\n</head>\n<body class="no-js">\n'
        f'<header class="top"><div class="logo"><a href="/">{html.escape(page.title)}</a></div>'
        f'<nav class="nav">{links}</nav></header>\n<main>\n'
    )
    footer = f'<footer class="footer">\n{page.footer}\n</footer>\n'
    blocks = filler(page.charset)
    filler_bytes = b"".join(blocks[i] for i in page.blocks) * page.repeat
    parts = [head.encode(codec)]
    if page.footer_first:
        # oversized pages: what a scanner that keeps only the first part must still see
        parts += [footer.encode(codec), page.sections.encode(codec), filler_bytes, b"</main>\n"]
    else:
        parts += [filler_bytes, page.sections.encode(codec), b"</main>\n"]
    if not page.footer_first:
        parts.append(footer.encode(codec))
    parts.append(f"{page.tail}</body>\n</html>\n".encode(codec))
    return b"".join(parts)


def pick_blocks(rng: random.Random, charset: str, size_range: tuple[int, int]) -> tuple[int, ...]:
    """Filler block indices adding up to a body size drawn from ``size_range`` (bytes)."""
    target = rng.randint(*size_range)
    sizes = [len(b) for b in filler(charset)]
    chosen: list[int] = []
    total = 3500  # head, footer and sections, roughly
    while total < target:
        k = rng.randrange(FILLER_BLOCKS)
        chosen.append(k)
        total += sizes[k]
    return tuple(chosen)


def redirect_stub(location: str) -> bytes:
    """Body of a 301/302, like nginx writes it."""
    return (
        "<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n"
        "<center><h1>301 Moved Permanently</h1></center>\r\n<hr><center>nginx</center>\r\n"
        f"<!-- {html.escape(location)} -->\r\n</body>\r\n</html>\r\n"
    ).encode()


def bare_error(status: int, reason: str) -> bytes:
    """A server's default error page: no template, no footer."""
    return (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()
