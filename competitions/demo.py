"""The demo competition: handwritten digits (scikit-learn's bundled set), with hidden test labels, public
training data, a sample submission, a baseline predictions CSV and a baseline ONNX model, so that a new user
can submit and see a score within a minute. Made through the services (so events flow); runs after
hub.accounts's demo, whose organisations and users it uses; safe to run again. The baseline is shipped, not
trained here (competitions/digits.py makes it).
"""

from __future__ import annotations

import datetime
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from competitions.digits import BASELINE_MODEL, BASELINE_PREDICTIONS, digits_task
from competitions.models import Competition, Phase, TeamMembership
from competitions.services import (
    baseline_set,
    competition_create,
    competition_publish,
    competition_set_status,
    phase_create,
    phase_hidden_data_upload,
    phase_training_file_add,
    rules_accept,
    team_create,
)
from hub.accounts.models import Organisation, User
from services.scorer.config import ScoringConfig
from services.scorer.hidden import hidden_data_for
from services.scorer.runners import RunContext
from services.scorer.scoring import submission_score

SLUG = "digits"
HOST_ORGANISATION = "合肥未来智能研究院"
SCORING = ScoringConfig(
    output="label",
    metrics=("accuracy", "f1_macro", "balanced_accuracy"),
    label_type="int",
    classes=tuple(str(digit) for digit in range(10)),
    leaderboard_split="public",
)


def load() -> Iterator[str]:
    if Competition.objects.filter(slug=SLUG).exists():
        yield f"  competition  /competitions/{SLUG}/ (already loaded)"
        return
    host_user = User.objects.get(username="host")
    host = Organisation.objects.get(name=HOST_ORGANISATION)
    task = digits_task()
    predictions = BASELINE_PREDICTIONS.read_bytes()
    with transaction.atomic():
        competition = competition_create(
            host=host,
            by=host_user,
            fields={
                "slug": SLUG,
                "title": "手写数字识别挑战赛",
                "title_en": "Handwritten digits challenge",
                "description": (
                    "识别 8×8 像素的手写数字图像（0–9）。可以上传预测文件（CSV），也可以上传 ONNX 模型或 Python "
                    "代码包，由平台在沙箱中对隐藏测试集推理并评分。公榜使用测试集的一部分，私榜在赛段结束时公布。"
                ),
                "description_en": (
                    "Recognise 8×8-pixel images of handwritten digits (0–9). Upload a predictions file (CSV), or an "
                    "ONNX model or a Python code package that the platform runs on the hidden test set in a "
                    "sandbox. The public leaderboard uses part of the test set; the private one is revealed when "
                    "the phase closes."
                ),
                "rules": (
                    "1. 每支队伍最多 3 人，每人只能加入一支队伍。\n2. 每队每天最多提交 5 次。\n"
                    "3. 禁止以任何方式获取隐藏测试标签。\n4. 赛段结束前，每队可选择 2 个提交参与私榜排名。"
                ),
                "rules_en": (
                    "1. Teams of up to 3; each entrant joins one team.\n2. Up to 5 submissions per team per day.\n"
                    "3. No attempt to obtain the hidden test labels.\n"
                    "4. Before the phase closes, each team may select 2 submissions for the private ranking."
                ),
                "prizes": "一等奖 1 名：算力券 5 万元；二等奖 2 名：算力券 2 万元。",
                "max_team_size": 3,
            },
        )
        now = timezone.now()
        phase = phase_create(
            competition=competition,
            by=host_user,
            fields={
                "name": "初赛",
                "name_en": "Preliminary round",
                "starts_at": now - datetime.timedelta(days=1),
                "ends_at": now + datetime.timedelta(days=60),
                "accepted_kinds": [Phase.Kind.PREDICTIONS, Phase.Kind.ONNX, Phase.Kind.PACKAGE],
                "resources": Phase.Resources.CPU,
                "time_limit_seconds": 120,
                "memory_limit_bytes": 2 * 1024**3,
                "max_upload_bytes": 20 * 1024**2,
                "daily_limit": 5,
                "final_selection_count": 2,
                "public_fraction": 0.4,
            },
            scoring=SCORING.to_dict(),
        )
        phase_hidden_data_upload(
            phase=phase,
            by=host_user,
            labels=SimpleUploadedFile("labels.csv", task.labels_csv()),
            inputs=SimpleUploadedFile("inputs.npz", task.inputs_npz()),
        )
        starter_files = [
            ("train.csv", task.training_csv(), "训练数据：label 与 64 个像素值 / Training data: label and 64 pixels"),
            ("test_inputs.csv", task.test_inputs_csv(), "测试输入（无标签）/ Test inputs (no labels)"),
            ("baseline_predictions.csv", predictions, "基线预测文件 / Baseline predictions"),
            (
                "baseline_model.onnx",
                BASELINE_MODEL.read_bytes(),
                "基线 ONNX 模型（逻辑回归）/ Baseline ONNX model (logistic regression)",
            ),
        ]
        for name, content, description in starter_files:
            phase_training_file_add(
                phase=phase, by=host_user, upload=SimpleUploadedFile(name, content), description=description
            )
        baseline_set(
            phase=phase,
            by=host_user,
            name="逻辑回归基线",
            name_en="Logistic regression baseline",
            scores=_scores(phase, predictions),
        )
        competition_publish(competition=competition, by=host_user)
        competition_set_status(competition=competition, by=host_user, status=Competition.Status.RUNNING)
        entrant = User.objects.get(username="entrant")
        if not TeamMembership.objects.filter(competition=competition, user=entrant).exists():
            rules_accept(competition=competition, by=entrant)
            team_create(competition=competition, by=entrant, name="星火队")
    yield f"  competition  /competitions/{SLUG}/ (host: host, entrant: entrant; baseline files under Data)"


def _scores(phase: Phase, predictions: bytes) -> dict[str, dict[str, float]]:
    """The baseline's scores, by the scorer itself (a predictions file runs no sandbox)."""
    hidden = hidden_data_for(phase_id=phase.pk)
    with tempfile.TemporaryDirectory(prefix="wanzhi-demo-") as directory:
        path = Path(directory) / "baseline.csv"
        path.write_bytes(predictions)
        report = submission_score(
            submission=path,
            kind="predictions",
            config=ScoringConfig.from_dict(phase.scoring_config),
            hidden=hidden,
            context=RunContext(work_dir=Path(directory) / "work"),
        )
    return report.scores
