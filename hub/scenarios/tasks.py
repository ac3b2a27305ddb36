"""Celery work of the scenarios context (thin: it asks search and calls the services)."""

from celery import shared_task

from hub.scenarios import services
from hub.scenarios.models import Scenario
from hub.search.matching import MatchingUnavailable, startups_for

SUGGESTIONS = 5


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def scenario_suggest_matches(self, scenario_id: int) -> str:  # type: ignore[no-untyped-def]
    """Find the startups that fit an open scenario now and store them (services.match_suggestions_replace,
    which publishes `scenarios.match.suggested.v1` when the list changed).

    A scenario that is gone or no longer open is skipped. If search cannot answer, the task is
    retried later and the stored suggestions stay as they were (no answer is not "no startup fits").
    """
    scenario = Scenario.objects.filter(pk=scenario_id, status=Scenario.Status.OPEN).first()
    if scenario is None:
        return "skipped"
    try:
        matches = startups_for(
            title=scenario.title or scenario.title_en,
            # The Chinese text, or the English where there is no Chinese: mixing both dilutes the share
            # of terms a profile must have in common.
            text=scenario.description or scenario.description_en,
            sector=scenario.sector,
            limit=SUGGESTIONS,
            exclude=[scenario.organisation_id],
            fail_silently=False,
        )
    except MatchingUnavailable as exc:
        raise self.retry(exc=exc) from exc
    published = services.match_suggestions_replace(
        scenario=scenario, suggestions=[(int(match.doc_id), match.score) for match in matches]
    )
    return "published" if published else "unchanged"
