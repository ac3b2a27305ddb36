"""Leaderboards: each team's best visible submission, ranked in SQL, ties to the earlier submission, the
private split only after the close, and a page read along the index."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from competitions.models import Baseline, LeaderboardEntry, Phase, Submission, Team
from competitions.selectors import LeaderboardHidden, leaderboard
from competitions.services import phase_close, submission_disqualify, submission_hide, submission_select_final
from tests.competitions.factories import PhaseFactory, SubmissionFactory, TeamFactory
from tests.competitions.support import score

pytestmark = pytest.mark.django_db


def submit(phase: Phase, team, *, public: float, private: float | None = None, minutes_ago: int = 0, ci=None):
    created = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    return score(SubmissionFactory(phase=phase, team=team, created_at=created), public=public, private=private, ci=ci)


def ranking(phase: Phase, split: str = "public") -> list[tuple[int, str, float]]:
    return [(row.rank, row.team_name, row.score) for row in leaderboard(phase=phase, split=split).rows]


def test_each_team_s_best_submission_ranked_best_first(phase):
    a, b, c = (TeamFactory(competition=phase.competition, name=name) for name in ("甲", "乙", "丙"))
    submit(phase, a, public=0.70)
    submit(phase, a, public=0.95)
    submit(phase, a, public=0.80)
    submit(phase, b, public=0.90)
    submit(phase, c, public=0.60)
    assert ranking(phase) == [(1, "甲", 0.95), (2, "乙", 0.90), (3, "丙", 0.60)]
    page = leaderboard(phase=phase, split="public")
    assert page.total == 3 and page.rows[0].entries == 3 and page.extra_columns == ["f1_macro"]


def test_a_tie_goes_to_the_earlier_submission(phase):
    late, early = (
        TeamFactory(competition=phase.competition, name="后"),
        TeamFactory(competition=phase.competition, name="先"),
    )
    submit(phase, late, public=0.9, minutes_ago=5)
    submit(phase, early, public=0.9, minutes_ago=50)
    submit(phase, late, public=0.9, minutes_ago=100)  # the team's own earlier equal score is its entry
    assert ranking(phase) == [(1, "后", 0.9), (2, "先", 0.9)]


def test_lower_is_better_metrics_rank_the_smallest_first(competition):
    phase = PhaseFactory(competition=competition, primary_metric="accuracy", higher_is_better=False)
    a, b = TeamFactory(competition=competition, name="甲"), TeamFactory(competition=competition, name="乙")
    submit(phase, a, public=0.3)
    submit(phase, a, public=0.1)
    submit(phase, b, public=0.2)
    assert ranking(phase) == [(1, "甲", 0.1), (2, "乙", 0.2)]


def test_hidden_submissions_and_disqualified_teams_leave_the_board(host, phase):
    a, b = TeamFactory(competition=phase.competition, name="甲"), TeamFactory(competition=phase.competition, name="乙")
    best = submit(phase, a, public=0.99)
    submit(phase, a, public=0.50)
    cheat = submit(phase, b, public=0.90)
    submission_hide(submission=best, by=host, reason="复制了他队的提交")
    assert ranking(phase) == [(1, "乙", 0.90), (2, "甲", 0.50)]
    submission_hide(submission=best, by=host, reason="复核后恢复", hidden=False)
    assert ranking(phase)[0] == (1, "甲", 0.99)
    submission_disqualify(submission=cheat, by=host, reason="多账号")
    assert ranking(phase) == [(1, "甲", 0.99)]
    assert not LeaderboardEntry.objects.filter(team=b).exists()


def test_the_private_board_is_hidden_until_the_close_and_ranks_the_final_selection(host, phase, entrant):
    team = TeamFactory(competition=phase.competition, name="甲", members=[entrant])
    other = TeamFactory(competition=phase.competition, name="乙")
    overfit = submit(phase, team, public=0.99, private=0.60)
    steady = submit(phase, team, public=0.90, private=0.85)
    submit(phase, team, public=0.80, private=0.95)  # neither selected nor among its best two public
    submit(phase, other, public=0.70, private=0.80)
    with pytest.raises(LeaderboardHidden):
        leaderboard(phase=phase, split="private")
    submission_select_final(submission=overfit, by=entrant)
    Phase.objects.filter(pk=phase.pk).update(ends_at=timezone.now() - datetime.timedelta(minutes=1))
    phase = phase_close(phase=phase, by=host)
    assert ranking(phase, "private") == [(1, "乙", 0.80), (2, "甲", 0.60)]
    assert steady.selected_for_final is False


def test_teams_that_select_nothing_are_ranked_by_their_best_public_submissions(host, phase):
    team = TeamFactory(competition=phase.competition, name="甲")
    submit(phase, team, public=0.99, private=0.60)
    submit(phase, team, public=0.90, private=0.85)
    submit(phase, team, public=0.80, private=0.95)  # third by public: not in the automatic two
    Phase.objects.filter(pk=phase.pk).update(ends_at=timezone.now() - datetime.timedelta(minutes=1))
    phase = phase_close(phase=phase, by=host)
    assert ranking(phase, "private") == [(1, "甲", 0.85)]


def test_intervals_overlapping_the_leader_s_are_marked_tied_and_baselines_sit_apart(phase):
    teams = [TeamFactory(competition=phase.competition, name=name) for name in ("甲", "乙", "丙")]
    submit(phase, teams[0], public=0.92, ci=(0.90, 0.94))
    submit(phase, teams[1], public=0.91, ci=(0.89, 0.93))
    submit(phase, teams[2], public=0.80, ci=(0.78, 0.82))
    Baseline.objects.create(phase=phase, name="逻辑回归基线", scores={"public": {"accuracy": 0.85}})
    page = leaderboard(phase=phase, split="public")
    assert [row.tied_with_leader for row in page.rows] == [False, True, False]
    assert [(b.name, b.score) for b in page.baselines] == [("逻辑回归基线", 0.85)]
    second = leaderboard(phase=phase, split="public", page=2, size=1)
    assert (second.rows[0].rank, second.rows[0].tied_with_leader, second.pages) == (2, True, 3)


def test_a_page_reads_along_the_rank_index_in_a_bounded_number_of_queries(phase):
    for i in range(30):
        submit(phase, TeamFactory(competition=phase.competition), public=i / 100)
    with CaptureQueriesContext(connection) as queries:
        page = leaderboard(phase=phase, split="public", page=2, size=10)
    assert [row.rank for row in page.rows] == list(range(11, 21))
    assert [row.score for row in page.rows] == [(29 - i) / 100 for i in range(10, 20)]
    assert len(queries) <= 4  # the page, the leader's interval, the count, the baselines
    ranked = next(q["sql"] for q in queries if "ROW_NUMBER()" in q["sql"])
    assert "LIMIT 10 OFFSET 10" in ranked


def test_postgresql_reads_offset_plus_size_entries_not_every_team(phase):
    """The plan behind the O(page) claim, on enough teams for the planner to choose as it would in use."""
    now = timezone.now()
    teams = Team.objects.bulk_create(
        Team(competition=phase.competition, name=f"队{i}", invite_code=f"code{i}", size_limit=3) for i in range(3000)
    )
    submissions = Submission.objects.bulk_create(
        Submission(
            phase=phase,
            team=team,
            kind="predictions",
            file="x.csv",
            sha256="0" * 64,
            size=1,
            quota_day=timezone.localdate(),
        )
        for team in teams
    )
    LeaderboardEntry.objects.bulk_create(
        LeaderboardEntry(
            phase=phase,
            split="public",
            team=team,
            submission=submission,
            score=(i * 7919) % 1000 / 1000,
            rank_key=(i * 7919) % 1000 / 1000,
            submitted_at=now - datetime.timedelta(seconds=i),
        )
        for i, (team, submission) in enumerate(zip(teams, submissions, strict=True))
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE competitions_leaderboardentry")
        cursor.execute("ANALYZE competitions_team")
    with CaptureQueriesContext(connection) as queries:
        page = leaderboard(phase=phase, split="public", page=3, size=50)
    assert [row.rank for row in page.rows] == list(range(101, 151))
    ranked = next(q["sql"] for q in queries if "ROW_NUMBER()" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {ranked}")
        plan = cursor.fetchone()[0][0]["Plan"]
    nodes = list(_walk(plan))
    assert not [n for n in nodes if n["Node Type"] in ("Sort", "Incremental Sort")]
    [scan] = [n for n in nodes if n.get("Index Name") == "leaderboard_rank"]
    assert scan["Actual Rows"] == 150  # offset 100 + page 50, of 3,000 teams


def _walk(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _walk(child)
