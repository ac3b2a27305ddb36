"""Matching on the real search server: startups that fit a scenario, open scenarios that fit a startup."""

from __future__ import annotations

import datetime
import logging
from typing import Any

import pytest
from django.utils import timezone

from hub.accounts.events import OrganisationUpdated
from hub.events.registry import validate
from hub.search.matching import MatchingUnavailable, scenarios_for, startups_for, strip_generic
from hub.search.models import SearchDocument
from tests.hub.search.documents import apply, organisation, scenario

pytestmark = pytest.mark.django_db

CLOSED_PORT = "http://127.0.0.1:9"

MEDICAL = 101
INDUSTRIAL = 102
FARMING = 103
GENERIC = 104
HOSPITAL = 105  # an enterprise, not a startup


def profile(organisation_id: int, *, version: int = 2, **fields: Any) -> OrganisationUpdated:
    """An accounts.organisation.updated.v1 event, valid against its schema."""
    data: dict[str, Any] = {
        "organisation_id": organisation_id,
        "version": version,
        "name": f"合肥科技{organisation_id}有限公司",
        "name_en": "",
        "kind": "startup",
        "region": "合肥市",
        "description": "",
        "description_en": "",
        "capabilities": [],
        "sectors": [],
    }
    data.update(fields)
    validate(OrganisationUpdated.type_name, data)
    return OrganisationUpdated(**data)


PROFILES = [
    profile(
        MEDICAL,
        name="星火医疗影像",
        description="专注医学影像人工智能辅助诊断，为基层医院提供肺结节、眼底病变筛查模型。",
        description_en="AI-assisted diagnosis from medical images for county hospitals.",
        capabilities=["医学影像", "辅助诊断", "大模型"],
        sectors=["healthcare"],
    ),
    profile(
        INDUSTRIAL,
        name="工控智联",
        description="工业互联网平台，设备预测性维护与工业视觉质检，模型边缘部署。",
        capabilities=["工业互联网", "预测性维护", "工业视觉"],
        sectors=["industrial-internet", "manufacturing-optimisation"],
    ),
    profile(
        FARMING,
        name="田园飞防",
        description="农业无人机植保，病虫害识别与精准施药。",
        capabilities=["植保无人机", "病虫害识别"],
        sectors=["agriculture"],
    ),
    profile(
        GENERIC,
        name="通用智能",
        description="人工智能技术服务，提供智能化解决方案和平台。",
        capabilities=["人工智能", "智能"],
    ),
    profile(
        HOSPITAL,
        name="合肥市第一人民医院",
        kind="enterprise",
        description="三甲医院，医学影像科。",
        capabilities=["医学影像"],
        sectors=["healthcare"],
    ),
]

INDUSTRY_SCENARIO = {
    "title": "工业互联网设备预测性维护",
    "text": "面向装备制造企业，基于人工智能实现设备故障预测，提供产线振动与温度数据。",
    "sector": "industrial-internet",
}
HEALTH_SCENARIO = {
    "title": "智慧医疗：基层医院医学影像辅助诊断",
    "text": "利用人工智能对胸部CT进行肺结节检测，辅助基层医生诊断，需要脱敏的医学影像数据。",
    "sector": "healthcare",
}


@pytest.fixture
def startups(indices):
    apply(*PROFILES)


def ids(matches) -> list[str]:
    return [match.doc_id for match in matches]


def test_an_industrial_internet_scenario_suggests_the_industrial_startup_and_leaves_out_unrelated_ones(startups):
    matches = startups_for(**INDUSTRY_SCENARIO)
    assert ids(matches)[0] == str(INDUSTRIAL)
    assert str(FARMING) not in ids(matches)  # nothing in common
    assert str(GENERIC) not in ids(matches)  # only words that fit everything
    best = matches[0]
    assert best.title == "工控智联" and best.url == f"/accounts/organisations/{INDUSTRIAL}/" and best.score > 0


def test_a_healthcare_scenario_ranks_the_medical_imaging_startup_first_and_never_an_enterprise(startups):
    matches = startups_for(**HEALTH_SCENARIO)
    assert ids(matches)[0] == str(MEDICAL)
    assert not {str(FARMING), str(GENERIC), str(HOSPITAL)} & set(ids(matches))
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)


def test_the_sector_alone_is_something_in_common_and_named_capabilities_count(startups):
    assert ids(startups_for(title="", text="", sector="agriculture")) == [str(FARMING)]
    assert ids(startups_for(title="", text="", sector="", capabilities=["工业视觉"])) == [str(INDUSTRIAL)]
    assert startups_for(title="", text="", sector="") == []  # nothing to match on


def test_excluded_organisations_and_the_limit_are_respected(startups):
    assert str(MEDICAL) not in ids(startups_for(**HEALTH_SCENARIO, exclude=[MEDICAL]))
    assert len(startups_for(title="", text="边缘部署 医学影像 工业视觉", sector="healthcare", limit=1)) == 1


def test_a_newer_profile_replaces_what_matching_reads(startups):
    apply(profile(FARMING, version=3, name="田园飞防", capabilities=["工业视觉"], sectors=["agriculture"]))
    assert str(FARMING) in ids(startups_for(title="", text="", sector="", capabilities=["工业视觉"]))


def test_an_organisation_only_created_has_no_profile_to_match(indices):
    apply(organisation(200, name="新建初创企业"))
    assert startups_for(**HEALTH_SCENARIO) == []
    assert scenarios_for(organisation_id=200) == []


@pytest.fixture
def open_scenarios(startups):
    today = timezone.localdate()
    apply(
        scenario(1, title="基层医院医学影像辅助诊断", description="胸部CT肺结节检测，辅助诊断。", sector="healthcare"),
        scenario(
            2,
            title="装备制造设备预测性维护",
            description="产线设备故障预测与工业视觉质检。",
            sector="industrial-internet",
        ),
        scenario(3, title="智慧农业病虫害识别", description="无人机巡田识别病虫害。", sector="agriculture"),
        # Matching but not open, or past its deadline, or the startup's own: never suggested.
        scenario(4, title="医学影像质控", description="医学影像辅助诊断。", sector="healthcare", status="closed"),
        scenario(
            5,
            title="医学影像随访",
            description="医学影像辅助诊断。",
            sector="healthcare",
            deadline=(today - datetime.timedelta(days=1)).isoformat(),
        ),
        scenario(
            6, title="医学影像标注", description="医学影像辅助诊断。", sector="healthcare", organisation_id=MEDICAL
        ),
    )


def test_scenarios_for_a_startup_are_the_open_ones_that_fit_it_best_first(open_scenarios):
    assert ids(scenarios_for(organisation_id=MEDICAL)) == ["1"]
    matches = scenarios_for(organisation_id=INDUSTRIAL)
    assert ids(matches) == ["2"] and matches[0].url == "/scenarios/2/" and matches[0].title == "装备制造设备预测性维护"
    assert ids(scenarios_for(organisation_id=FARMING)) == ["3"]
    assert scenarios_for(organisation_id=GENERIC) == []  # only generic words: nothing fits
    assert scenarios_for(organisation_id=999) == []  # not indexed


def test_search_down_means_no_suggestions_and_a_warning_or_an_error_for_who_asks(open_scenarios, settings, caplog):
    settings.ELASTICSEARCH_URL = CLOSED_PORT
    with caplog.at_level(logging.WARNING, logger="hub.search.matching"):
        assert startups_for(**HEALTH_SCENARIO) == []
        assert scenarios_for(organisation_id=MEDICAL) == []
    assert "unavailable" in caplog.text
    with pytest.raises(MatchingUnavailable):
        startups_for(**HEALTH_SCENARIO, fail_silently=False)


def test_generic_words_are_taken_out_without_joining_their_neighbours():
    assert strip_generic("基于人工智能的智慧医疗平台") == "的 医疗"
    assert strip_generic("AI医疗 smart farming, rain data") == "医疗 farming, rain"
    assert strip_generic("质检\x02系统") == "质检"


def test_a_created_organisation_is_version_1_and_its_first_profile_update_version_2(indices):
    apply(organisation(300, name="初创三百"))
    row = SearchDocument.objects.get(kind="organisations", doc_id="300")
    assert row.version == 1 and row.source["url"] == "/accounts/organisations/300/"
    apply(profile(300, version=2, name="初创三百", capabilities=["医学影像"], sectors=["healthcare"]))
    row.refresh_from_db()
    assert row.version == 2 and row.source["capabilities"] == ["医学影像"] and row.source["sectors"] == ["healthcare"]
    # A late created event, or an older update after a newer one, changes nothing.
    apply(profile(300, version=3, name="初创三百", description="新版描述"))
    assert apply(organisation(300, name="初创三百")) == []
    assert apply(profile(300, version=2, name="初创三百", description="旧版描述")) == []
    row.refresh_from_db()
    assert row.version == 3 and row.source["description"] == "新版描述"
    assert ids(startups_for(title="", text="", sector="healthcare")) == []  # v3 has no sectors any more
