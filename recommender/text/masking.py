"""Mask personal data in feedback text before anything is stored.

``mask_personal_data`` replaces, in this order of precedence:

    e-mail address                        -> [邮箱]
    ID number (18 digits / final X, 15)   -> [身份证号]   (15: a province's region code, a real 19YYMMDD)
    bank-card-like run (16-19 digits)     -> [银行卡号]
    mainland mobile number (+86 ...)      -> [手机号]
    landline (area code, extension)       -> [电话]
    QQ / WeChat account after a cue       -> [社交账号]
    name after an explicit cue (我叫…)    -> [姓名]

Detection runs on a copy normalised character by character with NFKC (so full-width
``１３８…`` and ``（010）`` are found) where every character keeps its length, so the spans
found map one to one onto the original text; everything outside a span is left as written.

Ordinary numbers stay: years (2024年), durations (3个小时), dates (2024-05-01), room
numbers (3栋201), hotlines (12345, 110) and counts. Numbers are only masked when their shape
is unmistakable (11-digit 1[3-9] mobile, 0-prefixed area code, ID birth-date structure,
16+ digit run) or when a cue such as ``电话：`` / ``身份证号`` stands right before them.
Names are only masked after an explicit cue and only when a common surname follows.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

__all__ = ["PLACEHOLDERS", "mask_personal_data"]

PLACEHOLDERS = {
    "email": "[邮箱]",
    "id_card": "[身份证号]",
    "bank_card": "[银行卡号]",
    "mobile": "[手机号]",
    "landline": "[电话]",
    "qq": "[社交账号]",
    "wechat": "[社交账号]",
    "name": "[姓名]",
}

# Masking is repeated until nothing changes (a replaced span can, in rare overlaps, let a
# lower-precedence pattern match on the next pass); this bounds it.
_MAX_PASSES = 4

_DASHES = dict.fromkeys(map(ord, "‐‑‒–—―−﹣－"), "-")

# Digits or ASCII letters right next to a number mean it is part of something longer.
_NB = r"(?<![0-9A-Za-z])"
_NA = r"(?![0-9A-Za-z])"

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z])"
)

_DATE8 = r"(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_DATE6 = r"[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_SEP = r"[ -]?"
_ID18 = re.compile(_NB + r"[1-9][0-9]{5}" + _SEP + _DATE8 + _SEP + r"[0-9]{3}[0-9Xx]" + _NA)
# A first-generation (15-digit) ID: region (a province code, checked below), a birth date 19YYMMDD that exists
# (checked with datetime), 3 digits; not part of a decimal number (…001.50, 0.130…). Order, tracking and licence numbers
# are 15 digits too and a random one still passes about one time in 30 (bench/RESULTS.md) …
_ID15 = re.compile(
    _NB + r"(?<![0-9]\.)[1-8][0-9]{5}" + _SEP + r"(?P<d>" + _DATE6 + r")" + _SEP + r"[0-9]{3}" + _NA + r"(?!\.[0-9])"
)
# The first two digits of a region code are a province's (GB/T 2260): 11-15, 21-23, 31-37,
# 41-46, 50-54, 61-65, 71, 81, 82. A 15-digit number starting 16…, 40…, 77… is no ID.
_PROVINCES = frozenset(
    [*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55), *range(61, 66), 71, 81, 82]
)
# … and a number its cue names as a thing's (快递单号：…, 订单号 …, IMEI …) is that thing's.
_THING_CUE = re.compile(
    r"(?:单号|订单|运单|快递|物流|工单|流水|发票|执照|注册号|税号|IMEI|imei|串号|批号|合同)"
    r"\s*(?:号码|编号|号)?\s*(?:是|为|:)?\s*$"
)
# After an explicit cue any 15-18 character run of digits (and a final X) is an ID number.
_ID_CUE = re.compile(
    r"(?:身份证|证件)(?:号码|号)?\s*(?:是|为|:)?\s*(?P<v>[0-9](?:[ -]?[0-9]){13,16}[ -]?[0-9Xx])" + _NA
)

_CARD = re.compile(_NB + r"(?:[0-9]{16,19}|[0-9]{4}(?:[ -][0-9]{4}){3}(?:[ -]?[0-9]{1,3})?)" + r"(?![0-9])")

_MOBILE = re.compile(
    r"(?<![0-9A-Za-z+])"
    r"(?:(?:\(\s*)?(?:\+|00)?86(?:\s*\))?[ -]?)?"
    r"1[3-9][0-9](?:[ .-]?[0-9]{4}){2}"  # 13812345678, 138 1234 5678, 138-1234-5678, 138.1234.5678
    r"(?![0-9])"
)

# After 手机 / 电话 a number of 10-13 digits starting with 1 is a mobile number typed with a
# digit too few or too many (or a prefix the pattern above does not know): still personal data.
_MOBILE_CUE = re.compile(
    r"(?:手机|电话|联系方式|tel|TEL|Tel)\s*(?:号码|号)?\s*(?:是|为|:)?\s*"
    r"(?P<v>1[0-9](?:[ .-]?[0-9]){8,11})(?![0-9])"
)

_EXT = r"(?:\s*(?:-|转|分机|ext\.?|x)\s*[0-9]{1,6})?"
_LANDLINE = re.compile(
    _NB
    + r"(?:\(\s*0[1-9][0-9]{1,2}\s*\)\s*-?\s*[0-9]{7,8}"  # (010)12345678
    + r"|0[1-9][0-9]{1,2}[ -][0-9]{3,4}[ -]?[0-9]{3,4}"  # 010-12345678, 0755 1234567, 021-6123-4567, 020 8888 8888
    + r"|0[1-9][0-9]{8,10})"  # 01012345678
    + _EXT
    + r"(?![0-9])"
)
# A bare 7-8 digit local number is only a phone number when a cue says so.
_LANDLINE_CUE = re.compile(
    r"(?:电话|座机|固话|tel|TEL|Tel|联系方式|打)\s*(?:号码|是|为|:)?\s*"
    r"(?P<v>[2-9][0-9]{2,3}[ -]?[0-9]{4}" + _EXT + r")(?![0-9])"
)

_QQ = re.compile(r"(?:QQ|qq|扣扣)\s*(?:号码|号)?\s*(?:是|为|:)?\s*(?P<v>[1-9][0-9]{4,11})(?![0-9])")
_WECHAT = re.compile(
    r"(?:微信|vx|VX|wx|WX|V信|v信)\s*(?:号码|号)?\s*(?:是|为|:)?\s*(?P<v>[A-Za-z][-_A-Za-z0-9]{5,19})(?![-_A-Za-z0-9])"
)

_COMPOUND_SURNAMES = (
    "欧阳 司马 上官 诸葛 东方 皇甫 令狐 慕容 尉迟 公孙 长孙 宇文 司徒 夏侯 端木 申屠 独孤 南宫 西门".split()
)
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武"
    "戴莫孔汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮"
    "柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳穆农司卓古"
    "吉缪简项芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂佟臧闵苟邬边卞姬师仇栾隋商刁沙荣巫"
    "寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
# A given name never starts with these (a title or the next clause follows the surname) …
_NOT_FIRST = set("老师阿先女同书主队组经科局院总工傅姐哥叔婶奶爷")
# … and rarely has these as its second character (they usually start the next clause).
_NOT_SECOND = set("想要是的在来说和跟也就都很还对从有了过着吧呢啊吗呀今现住负电手联我你他她们希觉需请问，。、")
_NAME_CUE = re.compile(
    r"(?:我叫|我的名字(?:是|叫)|本人(?:叫|姓名)|名叫|姓名\s*(?:是|为|:)?|名字\s*(?:是|为|:)|"
    r"联系人\s*(?:是|为|:)?|署名\s*:?|落款\s*:?|签名\s*:)\s*"
)
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    placeholder: str


def _detection_copy(text: str) -> str:
    """NFKC per character where it keeps the length, so offsets stay aligned with ``text``."""
    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
            continue
        norm = unicodedata.normalize("NFKC", ch)
        out.append(norm if len(norm) == 1 else ch)
    return "".join(out).translate(_DASHES)


def _whole(pattern: re.Pattern[str], kind: str) -> Callable[[str], Iterator[_Span]]:
    def find(norm: str) -> Iterator[_Span]:
        for m in pattern.finditer(norm):
            yield _Span(m.start(), m.end(), PLACEHOLDERS[kind])

    return find


def _group(pattern: re.Pattern[str], kind: str) -> Callable[[str], Iterator[_Span]]:
    def find(norm: str) -> Iterator[_Span]:
        for m in pattern.finditer(norm):
            yield _Span(m.start("v"), m.end("v"), PLACEHOLDERS[kind])

    return find


def _old_ids(norm: str) -> Iterator[_Span]:
    for m in _ID15.finditer(norm):
        if _THING_CUE.search(norm, max(0, m.start() - 12), m.start()):
            continue
        if int(m.group()[:2]) not in _PROVINCES:
            continue
        yy, mm, dd = (int(m["d"][i : i + 2]) for i in (0, 2, 4))
        try:
            date(1900 + yy, mm, dd)
        except ValueError:
            continue
        yield _Span(m.start(), m.end(), PLACEHOLDERS["id_card"])


def _names(norm: str) -> Iterator[_Span]:
    for cue in _NAME_CUE.finditer(norm):
        start = cue.end()
        rest = norm[start : start + 6]
        surname = next((s for s in _COMPOUND_SURNAMES if rest.startswith(s)), None)
        if surname is None and rest[:1] and rest[0] in _SURNAMES:
            surname = rest[0]
        if surname is None:
            continue
        end = start + len(surname)
        given = 0
        while given < 2 and end < len(norm) and _CJK.match(norm[end]):
            blocked = _NOT_FIRST if given == 0 else _NOT_SECOND
            if norm[end] in blocked:
                break
            end += 1
            given += 1
        yield _Span(start, end, PLACEHOLDERS["name"])


# Order is precedence: an earlier detector's span wins over any later overlapping one.
_DETECTORS: tuple[Callable[[str], Iterator[_Span]], ...] = (
    _whole(_EMAIL, "email"),
    _group(_ID_CUE, "id_card"),
    _whole(_ID18, "id_card"),
    _old_ids,
    _whole(_CARD, "bank_card"),
    _whole(_MOBILE, "mobile"),
    _group(_MOBILE_CUE, "mobile"),
    _whole(_LANDLINE, "landline"),
    _group(_LANDLINE_CUE, "landline"),
    _group(_QQ, "qq"),
    _group(_WECHAT, "wechat"),
    _names,
)


def _mask_once(text: str) -> str:
    norm = _detection_copy(text)
    taken: list[_Span] = []
    for detect in _DETECTORS:
        for span in detect(norm):
            if span.end > span.start and all(span.end <= t.start or span.start >= t.end for t in taken):
                taken.append(span)
    if not taken:
        return text
    out = []
    pos = 0
    for span in sorted(taken, key=lambda s: s.start):
        out.append(text[pos : span.start])
        out.append(span.placeholder)
        pos = span.end
    out.append(text[pos:])
    return "".join(out)


def mask_personal_data(text: str) -> str:
    """Return ``text`` with phone numbers, ID and card numbers, e-mails and cued names replaced.

    Idempotent: masking a masked text changes nothing.
    """
    for _ in range(_MAX_PASSES):
        masked = _mask_once(text)
        if masked == text:
            break
        text = masked
    return text
