"""Page features that call for an ICP licence or pre-approval: shop, forum, news.

Used by the LICENCE_SIGNALS rule. Single words are weak (almost every corporate site has a
"新闻中心" menu and many footers say "支持支付宝"), so a signal needs one strong phrase or several
distinct weak ones, and words inside ordinary corporate menu phrases do not count.

Speed: a page is scanned once for a small set of *key characters* (购 帖 讯 ...), which are
rare in markup and in most text; only around those hits are the words compared. An
alternation of all the words would cost ~1 ms on a CJK-dense page because its first
characters (新 下 商 回 ...) are everywhere.
"""

from __future__ import annotations

import re

# signal -> (strong phrases, weak words, distinct weak words needed)
_VOCABULARY: dict[str, tuple[tuple[str, ...], tuple[str, ...], int]] = {
    "ecommerce": (
        ("加入购物车", "购物车", "立即购买", "立即抢购", "去结算", "提交订单", "我的订单"),
        ("结算", "支付", "付款", "下单", "订单", "包邮", "优惠券", "库存"),
        3,
    ),
    "forum": (
        ("发帖", "回帖", "版主", "发表新帖", "主题帖", "Discuz!", "phpwind", "PHPWind"),
        ("论坛", "帖子", "楼主", "精华", "注册会员", "社区"),
        3,
    ),
    "news": (
        ("记者", "责任编辑", "本报讯", "新闻来源", "新华社", "本网讯", "通讯员"),
        ("新闻", "资讯", "编辑", "来源", "头条", "快讯", "要闻"),
        4,
    ),
}
# Menu phrases of ordinary company sites: the words inside them say nothing about a service.
_CORPORATE = (
    "公司新闻", "企业新闻", "行业新闻", "集团新闻", "产品新闻", "最新新闻", "媒体新闻", "新闻中心",
    "新闻动态", "新闻资讯", "新闻公告", "资讯中心", "行业资讯", "企业资讯", "公司资讯", "最新资讯",
    "支持支付宝", "联系编辑", "社区服务", "社区医院",
)  # fmt: skip

# Each word is found through its rarest character (chosen by hand: 车 is everywhere, 购 is not).
_KEY_CHAR = {
    "加入购物车": "购", "购物车": "购", "立即购买": "购", "立即抢购": "购", "去结算": "算",
    "提交订单": "订", "我的订单": "订", "结算": "算", "支付": "付", "付款": "付", "下单": "单",
    "订单": "订", "包邮": "邮", "优惠券": "券", "库存": "库",
    "发帖": "帖", "回帖": "帖", "版主": "版", "发表新帖": "帖", "主题帖": "帖",
    "Discuz!": "D", "phpwind": "p", "PHPWind": "P",
    "论坛": "坛", "帖子": "帖", "楼主": "楼", "精华": "精", "注册会员": "册", "社区": "区",
    "记者": "记", "责任编辑": "辑", "本报讯": "讯", "新闻来源": "闻", "新华社": "社",
    "本网讯": "讯", "通讯员": "讯", "新闻": "闻", "资讯": "讯", "编辑": "辑", "来源": "源",
    "头条": "条", "快讯": "讯", "要闻": "闻",
}  # fmt: skip

_WORDS: dict[str, tuple[str, bool]] = {
    word: (signal, strong)
    for signal, (strong_words, weak_words, _needed) in _VOCABULARY.items()
    for strong, words in ((True, strong_words), (False, weak_words))
    for word in words
}
_BY_KEY: dict[str, list[str]] = {}
for _word, _key in _KEY_CHAR.items():
    assert _word in _WORDS and _key in _word, _word
    _BY_KEY.setdefault(_key, []).append(_word)
_KEY_RE = re.compile(
    "|".join(sorted({re.escape(k) for k in _BY_KEY if not k.isascii()}))
    + "|Discuz!|phpwind|PHPWind"
)
_LONGEST = max(map(len, _WORDS)) + max(map(len, _CORPORATE))
MAX_SIGNAL_CHARS = 400_000
"""Only the first 400 K characters are read (menus and shop buttons are near the top)."""


def _corporate_phrase_at(text: str, start: int, end: int) -> bool:
    """Is text[start:end] part of a corporate menu phrase?"""
    around = text[max(0, start - 4) : end + 4]
    offset = start - max(0, start - 4)
    for phrase in _CORPORATE:
        at = around.find(phrase)
        while at >= 0:
            if at <= offset and offset + (end - start) <= at + len(phrase):
                return True
            at = around.find(phrase, at + 1)
    return False


def detect_signals(text: str) -> frozenset[str]:
    """Which of "ecommerce", "forum", "news" the page text shows."""
    text = text[:MAX_SIGNAL_CHARS]
    strong: set[str] = set()
    weak: dict[str, set[str]] = {}
    for match in _KEY_RE.finditer(text):
        key = match.group(0)
        candidates = _BY_KEY.get(key) or [key]
        for word in candidates:
            position = word.find(key)
            start = match.start() - position
            if start < 0 or not text.startswith(word, start):
                continue
            if _corporate_phrase_at(text, start, start + len(word)):
                continue
            signal, is_strong = _WORDS[word]
            if is_strong:
                strong.add(signal)
            else:
                weak.setdefault(signal, set()).add(word)
    found = set(strong)
    for signal, words in weak.items():
        if len(words) >= _VOCABULARY[signal][2]:
            found.add(signal)
    return frozenset(found)
