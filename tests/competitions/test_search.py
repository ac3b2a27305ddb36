"""Published competitions reach the search index and the portal's home page through their events."""

from __future__ import annotations

from competitions.services import competition_publish, competition_set_status, competition_update
from hub.search.models import SearchDocument
from hub.search.queries import search
from services.indexer.indexer import Indexer
from services.relay.relay import Relay
from tests.competitions.factories import CompetitionFactory, PhaseFactory
from tests.hub.cms import pages
from tests.support import wait_for


def test_a_published_competition_is_searchable_and_featured_until_it_finishes(
    run_in_thread, kafka, search_index, host, client
):
    competition = CompetitionFactory(
        draft=True, host=host.memberships.get().organisation, title="工业视觉缺陷检测挑战赛"
    )
    PhaseFactory(competition=competition)
    draft_hidden = CompetitionFactory(draft=True, host=competition.host, slug="secret", title="未发布的比赛")
    competition_publish(competition=competition, by=host)
    run_in_thread(Relay().run)
    run_in_thread(Indexer(poll_timeout_ms=100, catchup_every=0.5).run)

    def hits() -> set[str]:
        return {
            hit.id
            for hit in search(query="缺陷检测", kind="competitions", filters={}, sort="relevance", page=1, size=10).hits
        }

    wait_for(lambda: hits() == {str(competition.pk)})
    pages.home()
    home = client.get("/").content.decode()
    assert f'<a href="/competitions/{competition.slug}/">工业视觉缺陷检测挑战赛</a>' in home
    assert draft_hidden.title not in home

    competition_update(competition=competition, by=host, fields={"title_en": "Industrial defect detection"})
    competition_set_status(competition=competition, by=host, status="finished")
    wait_for(
        lambda: (
            SearchDocument.objects.get(kind="competitions", doc_id=str(competition.pk)).source["competition_status"]
            == "finished"
        )
    )
    home = client.get("/").content.decode()
    assert "工业视觉缺陷检测挑战赛" not in home  # featured only while announced or running
    assert "暂无开放的比赛。" in home
