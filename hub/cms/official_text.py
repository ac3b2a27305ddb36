"""Parse the plain text of a Chinese government document into a title, metadata and numbered headings for a policy page.

The input is what an editor copies from a government website (or any plain text of an official
document).  It is pure Python and needs neither Django nor a database.

Cleaning
    Every line is stripped of surrounding whitespace, including full-width spaces (U+3000), NBSP and
    zero-width characters, and blank lines are dropped.  Each remaining line is one paragraph (the
    sites publish one paragraph per line); its text is otherwise kept exactly, number included.

Where the document starts
    * The *head* is every line before the first body-like line: a numbered heading (see below) or a
      line ending with 。 or ；.  Site toolbars, breadcrumbs, the metadata
      block, the title and the site's "发布时间/来源/浏览次数" line all sit in the head.
    * A metadata line is a head line made only of ``key: value`` pairs: half- or full-width colon,
      several pairs on one line separated by whitespace, empty values allowed (``文号:``).  A key is
      2-6 Chinese characters; keys ending in 位置 are breadcrumbs ("当前位置: 首页 > …"), not metadata.
      Keys are kept exactly as labelled; the first non-empty value of a key wins (sites often render
      their metadata table twice).  Only lines before the title line are read for metadata.
    * The title is the 名称 metadata value when there is one, else the ``title`` argument, else a guess:
      the line just before the site's 发布时间/来源/浏览次数 line, else the first line after the
      metadata block, else the first line of the text (if that line is not body-like).
    * The title line is the first non-metadata line of the head equal to the title, ignoring
      whitespace and full/half-width differences.  It and everything before it are dropped, and so
      are 发布时间/来源/浏览次数 lines right after it.  When the title comes from 名称 or ``title`` but
      no line carries it, the body starts after the head's last metadata or breadcrumb line, or at the
      first line when there is none.

Headings
    * level 1 ``一、`` … ``九十九、``; level 2 ``（一）`` / ``(一)``; level 3 ``1.`` / ``1．`` / ``1、``
      (a dot followed by a digit is a decimal, as in ``1.5亿元``, not a number); level 4 ``（1）`` /
      ``(1)``.  Full- and half-width parentheses may be mixed.  ``Heading.number`` is the marker as
      written (``三、``, ``(一)``, ``1．``), ``Heading.text`` the rest of the heading.
    * A numbered line is a heading when the text after the marker is at most 40 characters, has no
      。 in it and does not end with sentence or clause punctuation (。．.；;，,、！!？?…).  A
      trailing colon is allowed ("一、主要任务：").
    * Run-in heading: "（一）强化组织领导。后续正文……".  When the first sentence after the marker (up to
      the first 。) is at most 25 characters with no comma, semicolon or colon in it, it is a Heading
      (without the 。) and the rest of the line, if any, a Paragraph.  A comma there is the mark of
      running prose, which numbered list items are made of, not of a heading.
    * Any other numbered line (a long item ending in 。, or an item whose heading lost its 。 when the
      page was captured) is a Paragraph with its number.  Lines starting with ——, ①, 第一条 … are
      paragraphs.  Heading levels are not checked for nesting: a document may skip a level.

Errors (OfficialTextError, a ValueError): the text is empty; no title found (the text starts with body
text and neither 名称 nor ``title`` names it); no numbered headings found.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Block", "Heading", "OfficialDocument", "OfficialTextError", "Paragraph", "parse_official_text"]

HEADING_MAX_CHARS = 40
RUN_IN_HEADING_MAX_CHARS = 25

# Characters str.strip() keeps but that pasted web text carries at line ends.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
# A numbered line ending with one of these is a sentence or clause, not a title.
_NOT_A_TITLE_END = "。．.；;，,、！!？?…"
# A run-in heading is a short phrase; these inside its first sentence mean running prose.
_CLAUSE_PUNCTUATION = "，,；;：:"
# Where the head ends.  Only 。 and ；: toolbar items such as "帮助?" or "更多…" must not end the head early.
_BODY_LINE_END = "。；;"

# 一 … 九十九: a strict numeral, so a word that happens to start with 十 or 一 is not a number.
_CN_NUMERAL = r"(?:[二三四五六七八九]?十[一二三四五六七八九]?|[一二三四五六七八九])"
_DIGITS = r"[0-9０-９]{1,3}"
_HEADING_MARKERS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (1, re.compile(rf"^{_CN_NUMERAL}、")),
    (2, re.compile(rf"^[（(]{_CN_NUMERAL}[）)]")),
    (3, re.compile(rf"^{_DIGITS}(?:[.．](?![0-9０-９])|、)")),
    (4, re.compile(rf"^[（(]{_DIGITS}[）)]")),
)

# A metadata key starts the line or follows whitespace, so "16:52" inside a value is no key.
_METADATA_KEY = re.compile(r"(?:^|(?<=\s))([\u4e00-\u9fff]{2,6})[ \t\u3000]*[:：]")
# The line a site prints under the title: "发布时间:2023-10-27 16:52 来源:… 浏览次数:814 字体:[ ]".
_PAGE_INFO = re.compile(r"^(?:发布时间|来源|信息来源|文章来源|浏览次数|点击数|访问量|阅读次数|字体|作者)\s*[:：]")


class OfficialTextError(ValueError):
    """The text cannot be read as an official document; the message says why."""


@dataclass(frozen=True)
class Heading:
    level: int  # 1..4
    number: str  # the marker as written: "三、", "（一）", "1．"
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


Block = Heading | Paragraph


@dataclass(frozen=True)
class OfficialDocument:
    title: str
    metadata: dict[str, str]
    preface: list[Paragraph]
    blocks: list[Block]

    def toc(self) -> list[Heading]:
        """The headings in document order; each carries its level for indenting."""
        return [block for block in self.blocks if isinstance(block, Heading)]


def parse_official_text(text: str, *, title: str | None = None) -> OfficialDocument:
    """Parse ``text`` (see the module docstring for the rules); ``title`` is used when the text has no 名称."""
    lines = [cleaned for raw in text.splitlines() if (cleaned := _clean(raw))]
    if not lines:
        raise OfficialTextError("the text is empty")

    head_end = next((i for i, line in enumerate(lines) if _is_body_like(line)), len(lines))
    metadata_lines = {i: pairs for i in range(head_end) if (pairs := _metadata_pairs(lines[i])) is not None}
    head_metadata = _merge(metadata_lines[i] for i in sorted(metadata_lines))

    given = (title or "").strip() or None
    wanted = [t for t in (head_metadata.get("名称"), given) if t]
    title_index: int | None = None
    if wanted:
        keys = {_comparable(t) for t in wanted}
        # The title line may be the first body-like line too (a title ending in ？), hence head_end + 1.
        title_index = next(
            (
                i
                for i in range(min(head_end + 1, len(lines)))
                if i not in metadata_lines and _comparable(lines[i]) in keys
            ),
            None,
        )
        doc_title = wanted[0]
    else:
        title_index = _guess_title_index(lines, head_end, metadata_lines)
        if title_index is None:
            raise OfficialTextError(
                "no title found: the text starts with body text; put the title on the first line or pass title="
            )
        doc_title = lines[title_index]

    if title_index is not None:
        body_start = title_index + 1
        # Page furniture printed under the title (publication time, source, view count) is not content.
        while body_start < head_end and _PAGE_INFO.match(lines[body_start]):
            body_start += 1
        metadata_end = title_index
    else:
        anchors = [i for i in range(head_end) if i in metadata_lines or _is_breadcrumb(lines[i])]
        body_start = metadata_end = anchors[-1] + 1 if anchors else 0
    metadata = _merge(metadata_lines[i] for i in sorted(metadata_lines) if i < metadata_end)

    preface: list[Paragraph] = []
    blocks: list[Block] = []
    for line in lines[body_start:]:
        parsed = _parse_line(line)
        if not blocks and isinstance(parsed[0], Paragraph):
            preface.extend(block for block in parsed if isinstance(block, Paragraph))
        else:
            blocks.extend(parsed)
    if not blocks:
        raise OfficialTextError("no numbered headings found: expected headings such as 一、 （一） 1. or （1）")
    return OfficialDocument(title=doc_title, metadata=metadata, preface=preface, blocks=blocks)


def _clean(line: str) -> str:
    return line.strip().strip(_INVISIBLE).strip()


def _comparable(line: str) -> str:
    # NFKC folds full-width brackets, digits and spaces, so "（2023—2025年）" matches "(2023—2025年)".
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", line))


def _heading_marker(line: str) -> tuple[int, str] | None:
    for level, pattern in _HEADING_MARKERS:
        if match := pattern.match(line):
            return level, match.group()
    return None


def _is_body_like(line: str) -> bool:
    return _heading_marker(line) is not None or line.endswith(tuple(_BODY_LINE_END))


def _is_breadcrumb(line: str) -> bool:
    match = _METADATA_KEY.match(line)
    return match is not None and match.group(1).endswith("位置")


def _metadata_pairs(line: str) -> list[tuple[str, str]] | None:
    """The ``key: value`` pairs of a line made only of them, else None."""
    matches = list(_METADATA_KEY.finditer(line))
    if not matches or matches[0].start() != 0 or _is_breadcrumb(line):
        return None
    pairs = []
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following is not None else len(line)
        pairs.append((match.group(1), line[match.end() : end].strip()))
    return pairs


def _merge(groups: Iterable[list[tuple[str, str]]]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for pairs in groups:
        for key, value in pairs:
            if not merged.get(key):
                merged[key] = value
    return merged


def _guess_title_index(lines: list[str], head_end: int, metadata_lines: dict[int, list[tuple[str, str]]]) -> int | None:
    def plain(i: int) -> bool:
        return i not in metadata_lines and not _is_breadcrumb(lines[i])

    # The site prints the publication line right under the title.
    for i in range(1, head_end):
        if _PAGE_INFO.match(lines[i]) and plain(i - 1):
            return i - 1
    if metadata_lines:
        after = max(metadata_lines) + 1
        return next((i for i in range(after, head_end) if plain(i)), None)
    return 0 if head_end > 0 else None


def _parse_line(line: str) -> list[Block]:
    marker = _heading_marker(line)
    if marker is None:
        return [Paragraph(line)]
    level, number = marker
    rest = line[len(number) :].strip()
    if not rest:
        return [Paragraph(line)]
    if "。" not in rest and len(rest) <= HEADING_MAX_CHARS and not rest.endswith(tuple(_NOT_A_TITLE_END)):
        return [Heading(level, number, rest)]
    lead, period, body = rest.partition("。")
    lead = lead.strip()
    if period and lead and len(lead) <= RUN_IN_HEADING_MAX_CHARS and not any(c in lead for c in _CLAUSE_PUNCTUATION):
        body = body.strip()
        return [Heading(level, number, lead), *([Paragraph(body)] if body else [])]
    return [Paragraph(line)]
