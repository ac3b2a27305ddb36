"""The official-text parser: the captured action plan, each numbering rule, and the errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.cms.official_text import (
    Block,
    Heading,
    OfficialTextError,
    Paragraph,
    parse_official_text,
)

ACTION_PLAN = Path(__file__).resolve().parents[3] / "hub" / "cms" / "demo_content" / "action-plan.txt"
PLAN_TITLE = "安徽省通用人工智能创新发展三年行动计划(2023—2025年)"


@pytest.fixture(scope="module")
def plan_text() -> str:
    return ACTION_PLAN.read_text(encoding="utf-8")


def _headings(blocks: list[Block], level: int) -> list[str]:
    return [b.number + b.text for b in blocks if isinstance(b, Heading) and b.level == level]


def _body_lines(text: str) -> list[str]:
    """The source's non-empty lines after the title line and the site's 发布时间 line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    start = lines.index(PLAN_TITLE) + 1
    assert lines[start].startswith("发布时间:")
    return lines[start + 1 :]


# The captured action plan ------------------------------------------------------------------------


def test_action_plan_title_and_metadata(plan_text: str) -> None:
    doc = parse_official_text(plan_text)
    assert doc.title == PLAN_TITLE
    assert doc.metadata == {
        "索引号": "113417000032449839/202310-00033",
        "组配分类": "上级文件",
        "发布机构": "宣城市科学技术局",
        "主题分类": "科技、教育",
        "名称": PLAN_TITLE,
        "文号": "",
        "发布日期": "2023-10-27",
    }


def test_action_plan_preface(plan_text: str) -> None:
    doc = parse_official_text(plan_text)
    assert len(doc.preface) == 1
    assert doc.preface[0].text.startswith("为抢抓通用人工智能加速发展历史机遇")
    assert doc.preface[0].text.endswith("制定本行动计划。")


def test_action_plan_chapters(plan_text: str) -> None:
    doc = parse_official_text(plan_text)
    assert _headings(doc.blocks, 1) == ["一、总体思路", "二、行动目标", "三、重点任务", "四、保障措施"]


def test_action_plan_sections_under_each_chapter(plan_text: str) -> None:
    toc = parse_official_text(plan_text).toc()
    chapter_at = {h.text: i for i, h in enumerate(toc) if h.level == 1}
    tasks = toc[chapter_at["重点任务"] + 1 : chapter_at["保障措施"]]
    safeguards = toc[chapter_at["保障措施"] + 1 :]
    assert _headings(list(tasks), 2) == [
        "(一)实施智算平台加速行动,确保算力充裕",
        "(二)实施数据资源全面开放行动,确保高质量数据供给",
        "(三)实施关键核心技术攻关行动,保持大模型性能持续领先",  # indented by NBSPs in the source
        "(四)实施全时全域场景应用行动,全力推动行业示范",
        "(五)实施市场主体培育壮大行动,夯实产业基础",
        "(六)实施一流生态构建行动,激发创新活力",
    ]
    assert _headings(list(safeguards), 2) == [
        "(一)强化组织保障",
        "(二)强化资金保障",
        "(三)强化制度设计",
        "(四)强化监测机制",
        "(五)强化宣传培训",
        "(六)统筹人工智能发展和安全",
    ]
    # 总体思路 and 行动目标 have no sections.
    assert [h.level for h in toc[: chapter_at["重点任务"]]] == [1, 1]


def test_action_plan_numbered_items(plan_text: str) -> None:
    """Only 1. under (一) keeps its 。 after the lead-in; in the capture the others run straight into the text."""
    doc = parse_official_text(plan_text)
    assert _headings(doc.blocks, 3) == ["1.积极推动智能算力建设"]
    first = next(i for i, b in enumerate(doc.blocks) if isinstance(b, Heading) and b.level == 3)
    follow = doc.blocks[first + 1]
    assert isinstance(follow, Paragraph)
    assert follow.text.startswith("坚持商业化运营模式,")
    assert Paragraph(next(line for line in _body_lines(plan_text) if line.startswith("2.统筹调度"))) in doc.blocks


def test_action_plan_drops_page_furniture(plan_text: str) -> None:
    doc = parse_official_text(plan_text)
    everything = "\n".join(b.text for b in [*doc.preface, *doc.blocks])
    for word in ("拼音", "配色", "大鼠标", "设为首页", "您现在所在的位置", "浏览次数", "索引号"):
        assert word not in everything
    assert "辅助浏览" not in doc.title


def test_action_plan_last_paragraph(plan_text: str) -> None:
    last = parse_official_text(plan_text).blocks[-1]
    assert isinstance(last, Paragraph)
    assert last.text.startswith("加强人工智能发展的潜在风险研判")  # leading NBSPs stripped
    assert last.text.endswith("安全测试。")


def test_action_plan_keeps_every_body_line(plan_text: str) -> None:
    """Walking the blocks rebuilds each source body line exactly, in order, with nothing left over."""
    doc = parse_official_text(plan_text)
    blocks: list[Block] = [*doc.preface, *doc.blocks]
    source = _body_lines(plan_text)
    j = 0
    for line in source:
        block = blocks[j]
        if isinstance(block, Paragraph) and block.text == line:
            j += 1
        elif isinstance(block, Heading) and block.number + block.text == line:
            j += 1
        else:  # a run-in heading: "1.积极推动智能算力建设。坚持…"
            following = blocks[j + 1]
            assert isinstance(block, Heading) and isinstance(following, Paragraph), line
            assert f"{block.number}{block.text}。{following.text}" == line
            j += 2
    assert j == len(blocks)
    assert len(source) == 46
    assert len(blocks) == 47  # one run-in heading split in two


def test_action_plan_title_guessed_without_name_line(plan_text: str) -> None:
    """Without 名称 the title is the line above the site's 发布时间 line."""
    text = "\n".join(line for line in plan_text.splitlines() if not line.startswith("名称"))
    doc = parse_official_text(text)
    assert doc.title == PLAN_TITLE
    assert "名称" not in doc.metadata
    assert doc.metadata["索引号"] == "113417000032449839/202310-00033"
    assert _headings(doc.blocks, 1) == ["一、总体思路", "二、行动目标", "三、重点任务", "四、保障措施"]


def test_name_without_title_line_starts_body_after_metadata(plan_text: str) -> None:
    text = "\n".join(line for line in plan_text.splitlines() if line != PLAN_TITLE)
    doc = parse_official_text(text)
    assert doc.title == PLAN_TITLE
    assert doc.metadata["发布日期"] == "2023-10-27"
    # The site's 发布时间 line follows the metadata block and is read as metadata here, not as body.
    assert [p.text[:6] for p in doc.preface] == ["为抢抓通用人"]


def test_title_argument_when_the_page_has_neither_name_nor_title_line(plan_text: str) -> None:
    text = "\n".join(line for line in plan_text.splitlines() if not line.startswith(("名称", PLAN_TITLE)))
    doc = parse_official_text(text, title="行动计划")
    assert doc.title == "行动计划"
    assert doc.metadata["组配分类"] == "上级文件"
    assert doc.preface[0].text.startswith("为抢抓")
    assert _headings(doc.blocks, 1) == ["一、总体思路", "二、行动目标", "三、重点任务", "四、保障措施"]


def test_name_metadata_wins_over_title_argument(plan_text: str) -> None:
    doc = parse_official_text(plan_text, title="行动计划")
    assert doc.title == PLAN_TITLE
    assert doc.preface[0].text.startswith("为抢抓")


# Plain texts -------------------------------------------------------------------------------------


def test_plain_text_title_and_body() -> None:
    doc = parse_official_text("关于加强算力建设的通知\n\n各地要高度重视。\n一、总体要求\n坚持统筹推进。\n")
    assert doc.title == "关于加强算力建设的通知"
    assert doc.metadata == {}
    assert doc.preface == [Paragraph("各地要高度重视。")]
    assert doc.blocks == [Heading(1, "一、", "总体要求"), Paragraph("坚持统筹推进。")]


def test_title_argument_without_title_line() -> None:
    doc = parse_official_text("为推动发展,制定本方案。\n一、目标\n到2025年建成。", title="某某方案")
    assert doc.title == "某某方案"
    assert doc.preface == [Paragraph("为推动发展,制定本方案。")]
    assert doc.blocks == [Heading(1, "一、", "目标"), Paragraph("到2025年建成。")]


def test_title_argument_matches_line_despite_width() -> None:
    doc = parse_official_text("某某行动计划（2023—2025年）\n一、目标\n正文。", title="某某行动计划(2023—2025年)")
    assert doc.title == "某某行动计划(2023—2025年)"
    assert doc.preface == []
    assert doc.blocks[0] == Heading(1, "一、", "目标")


def test_metadata_lines_with_full_width_colons_and_breadcrumbs() -> None:
    text = (
        "当前位置：首页 > 政策文件\n"
        "索引号：001/2023-1　　成文日期：2023-10-20\n"
        "发文字号：皖政〔2023〕9号\n"
        "文号:\n"
        "关于印发某某方案的通知\n"
        "来源：省政府办公厅 浏览次数：12\n"
        "一、总体要求\n"
        "正文。"
    )
    doc = parse_official_text(text)
    assert doc.title == "关于印发某某方案的通知"
    assert doc.metadata == {
        "索引号": "001/2023-1",
        "成文日期": "2023-10-20",
        "发文字号": "皖政〔2023〕9号",
        "文号": "",
    }
    assert doc.preface == []
    assert doc.blocks == [Heading(1, "一、", "总体要求"), Paragraph("正文。")]


def test_odd_whitespace_is_stripped_and_blank_lines_collapsed() -> None:
    text = "\ufeff　标题　\n\n\n\u00a0\u00a0一、 总体要求 \n\n\t　　第一段 保留 内部空格。\u200b\n\n\n"
    doc = parse_official_text(text)
    assert doc.title == "标题"
    assert doc.blocks == [Heading(1, "一、", "总体要求"), Paragraph("第一段 保留 内部空格。")]


# Numbering levels --------------------------------------------------------------------------------


def _blocks(*body: str) -> list[Block]:
    return parse_official_text("\n".join(["标题", *body])).blocks


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("一、总体要求", Heading(1, "一、", "总体要求")),
        ("十、组织实施", Heading(1, "十、", "组织实施")),
        ("十一、附则", Heading(1, "十一、", "附则")),
        ("二十三、其他事项", Heading(1, "二十三、", "其他事项")),
        ("（一）强化组织领导", Heading(2, "（一）", "强化组织领导")),
        ("(二)强化资金保障", Heading(2, "(二)", "强化资金保障")),
        ("（十二）完善机制", Heading(2, "（十二）", "完善机制")),
        ("1.积极推动算力建设", Heading(3, "1.", "积极推动算力建设")),
        ("2．统筹调度算力资源", Heading(3, "2．", "统筹调度算力资源")),
        ("3、开展评测研究", Heading(3, "3、", "开展评测研究")),
        ("12. 培育市场主体", Heading(3, "12.", "培育市场主体")),
        ("（1）建设算力中心", Heading(4, "（1）", "建设算力中心")),
        ("(2)建设数据平台", Heading(4, "(2)", "建设数据平台")),
        ("一、主要任务：", Heading(1, "一、", "主要任务：")),
    ],
)
def test_each_numbering_level(line: str, expected: Heading) -> None:
    assert _blocks(line) == [expected]


def test_heading_at_the_length_limit() -> None:
    forty = "实" * 40
    assert _blocks(f"一、{forty}") == [Heading(1, "一、", forty)]
    assert _blocks("一、甲", f"二、{forty}施") == [Heading(1, "一、", "甲"), Paragraph(f"二、{forty}施")]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "（一）强化组织领导。成立工作专班,统筹推进。",
            [Heading(2, "（一）", "强化组织领导"), Paragraph("成立工作专班,统筹推进。")],
        ),
        (
            "(二)强化资金保障。统筹各类资金。",
            [Heading(2, "(二)", "强化资金保障"), Paragraph("统筹各类资金。")],
        ),
        (
            "1．积极推动智能算力建设。坚持商业化运营模式。",
            [Heading(3, "1．", "积极推动智能算力建设"), Paragraph("坚持商业化运营模式。")],
        ),
        (
            "（1）建设算力中心。按需布局。",
            [Heading(4, "（1）", "建设算力中心"), Paragraph("按需布局。")],
        ),
        ("（三）强化制度设计。", [Heading(2, "（三）", "强化制度设计")]),
    ],
)
def test_run_in_heading_is_split(line: str, expected: list[Block]) -> None:
    assert _blocks("一、重点任务", line) == [Heading(1, "一、", "重点任务"), *expected]


@pytest.mark.parametrize(
    "line",
    [
        # Longer than the limit and ending with 。: a numbered item, not a heading.
        "1.推进高质量行业数据库建设由省市政府联合行业头部企业等积极参与国家级行业数据库建设并开放共享数据资源。",
        # The first sentence is prose (a comma), so nothing is split off.
        "2.到2025年,全省算力规模达到10EFLOPS。到2027年再翻一番。",
        # Its lead-in lost its 。, so the first sentence is far too long to be a heading.
        "3.强化应用场景源头供给在政府投资的重点项目中积极支持通用人工智能技术场景创新应用拓展场景。",
        # Short, but a clause of a list rather than a title.
        "（1）建设算力中心；",
        "(2)发展数据产业,",
        # A decimal, not a number.
        "1.5亿元用于算力奖补。",
        "（一）",
    ],
)
def test_numbered_sentences_stay_paragraphs(line: str) -> None:
    assert _blocks("一、重点任务", line) == [Heading(1, "一、", "重点任务"), Paragraph(line)]


def test_other_paragraph_starts_are_not_headings() -> None:
    lines = ["——模型主要性能保持国内领先。", "十分重要、必须落实。", "2025年建成。", "①第一项。"]
    assert _blocks("一、目标", *lines) == [Heading(1, "一、", "目标"), *[Paragraph(x) for x in lines]]


def test_toc_lists_headings_in_order_with_levels() -> None:
    doc = parse_official_text(
        "标题\n前言。\n一、甲\n正文。\n（一）乙\n1.丙\n（1）丁\n正文。\n（二）戊。正文。\n二、己\n"
    )
    assert [(h.level, h.number, h.text) for h in doc.toc()] == [
        (1, "一、", "甲"),
        (2, "（一）", "乙"),
        (3, "1.", "丙"),
        (4, "（1）", "丁"),
        (2, "（二）", "戊"),
        (1, "二、", "己"),
    ]
    assert doc.preface == [Paragraph("前言。")]


# Errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n\n\u3000\u00a0\n"])
def test_empty_text_is_an_error(text: str) -> None:
    with pytest.raises(OfficialTextError, match="the text is empty"):
        parse_official_text(text)


@pytest.mark.parametrize("text", ["为推动发展,制定本方案。\n一、目标\n正文。", "一、目标\n正文。"])
def test_text_without_title_is_an_error(text: str) -> None:
    with pytest.raises(OfficialTextError, match="no title found"):
        parse_official_text(text)


def test_text_without_headings_is_an_error() -> None:
    with pytest.raises(OfficialTextError, match="no numbered headings found"):
        parse_official_text("关于某事的通知\n现将有关事项通知如下。\n请遵照执行。")


def test_error_is_a_value_error() -> None:
    assert issubclass(OfficialTextError, ValueError)
