"""A profile change end to end: published in its transaction → relay → Kafka → indexer → matching finds it."""

from hub.accounts.services import organisation_create, organisation_update_profile
from hub.search.matching import startups_for
from hub.search.models import SearchDocument
from services.indexer.indexer import Indexer
from services.relay.relay import Relay
from tests.factories import UserFactory
from tests.support import wait_for


def healthcare_startups() -> list[str]:
    return [match.doc_id for match in startups_for(title="", text="", sector="healthcare")]


def test_a_changed_profile_reaches_matching_and_a_later_change_replaces_it(run_in_thread, kafka, search_index):
    run_in_thread(Relay().run)
    run_in_thread(Indexer(poll_timeout_ms=100, catchup_every=0.5).run)
    staff = UserFactory(is_staff=True)
    startup = organisation_create(name="合肥影像智能", kind="startup", region="合肥市")
    organisation_update_profile(
        organisation=startup, by=staff, fields={"capabilities": "医学影像、大模型", "sectors": ["healthcare"]}
    )
    wait_for(lambda: healthcare_startups() == [str(startup.pk)])
    organisation_update_profile(organisation=startup, by=staff, fields={"sectors": ["education"]})
    wait_for(lambda: healthcare_startups() == [])
    document = SearchDocument.objects.get(kind="organisations", doc_id=str(startup.pk))
    assert document.version == 3 and document.source["capabilities"] == ["医学影像", "大模型"]
