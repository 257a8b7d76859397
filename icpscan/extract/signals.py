"""Page features that call for an ICP licence or pre-approval: shop, forum, news.

Used by the LICENCE_SIGNALS rule. Single words are weak (almost every corporate site has a
"新闻中心" menu and many footers say "支持支付宝"), so a signal needs one strong phrase or several
distinct weak ones. Corporate menu phrases are removed before counting.
"""

from __future__ import annotations

import re

_STRONG = {
    "ecommerce": ("加入购物车", "购物车", "立即购买", "立即抢购", "去结算", "提交订单", "我的订单"),
    "forum": (
        "发帖",
        "回帖",
        "版主",
        "发表新帖",
        "主题帖",
        "Discuz!",
        "Powered by Discuz",
        "phpwind",
    ),
    "news": ("记者", "责任编辑", "本报讯", "新闻来源", "新华社", "本网讯", "通讯员"),
}
_WEAK = {
    "ecommerce": ("结算", "支付", "付款", "下单", "订单", "商品", "包邮", "优惠券", "库存"),
    "forum": ("论坛", "帖子", "楼主", "社区", "精华", "回复", "注册会员"),
    "news": ("新闻", "资讯", "编辑", "来源", "头条", "快讯", "要闻", "评论"),
}
_WEAK_NEEDED = {"ecommerce": 3, "forum": 3, "news": 4}
# Menu phrases on ordinary company sites: they say nothing about running a news service.
_CORPORATE = re.compile(
    r"(?:公司|企业|行业|集团|产品|最新|媒体)(?:新闻|资讯|动态)|新闻(?:中心|动态|资讯|公告)|"
    r"(?:资讯|新闻)中心|支持支付宝|联系编辑"
)
_WORDS = {
    word: (signal, strong)
    for strong, table in ((True, _STRONG), (False, _WEAK))
    for signal, words in table.items()
    for word in words
}
_WORD_RE = re.compile("|".join(sorted(map(re.escape, _WORDS), key=len, reverse=True)), re.I)
_FORUM_WORDS = {w.lower(): w for w in _WORDS}


def detect_signals(text: str) -> frozenset[str]:
    """Which of "ecommerce", "forum", "news" the page text shows."""
    if _CORPORATE.search(text):
        text = _CORPORATE.sub(" ", text)
    weak: dict[str, set[str]] = {}
    found: set[str] = set()
    for match in _WORD_RE.finditer(text):
        word = _FORUM_WORDS.get(match.group(0).lower(), match.group(0))
        signal, strong = _WORDS[word]
        if strong:
            found.add(signal)
        else:
            weak.setdefault(signal, set()).add(word)
    for signal, words in weak.items():
        if len(words) >= _WEAK_NEEDED[signal]:
            found.add(signal)
    return frozenset(found)
