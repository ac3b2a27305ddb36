"""The demo competition: handwritten digits (scikit-learn's bundled set), with hidden test labels, public
training data, a sample submission, a baseline predictions CSV and a baseline ONNX model, so that a new user
can submit and see a score within a minute. Made through the services (so events flow); runs after
hub.accounts's demo, whose organisations and users it uses; safe to run again.
"""

from __future__ import annotations

import csv
import datetime
import io
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

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
TRAIN_ROWS = 1200  # of 1,797; the other 597 are the hidden test set
HOST_ORGANISATION = "合肥未来智能研究院"
SCORING = ScoringConfig(
    output="label",
    metrics=("accuracy", "f1_macro", "balanced_accuracy"),
    label_type="int",
    classes=tuple(str(digit) for digit in range(10)),
    leaderboard_split="public",
)


@dataclass(frozen=True)
class DigitsTask:
    """The digits split for the competition, and everything a host or entrant file is made of."""

    x_train: np.ndarray
    y_train: np.ndarray
    test_ids: list[str]
    x_test: np.ndarray
    y_test: np.ndarray

    def labels_csv(self) -> bytes:
        return _csv(["id", "label"], zip(self.test_ids, self.y_test.tolist(), strict=True))

    def inputs_npz(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, id=np.array(self.test_ids), x=self.x_test)
        return buffer.getvalue()

    def training_csv(self) -> bytes:
        header = ["label", *(f"pixel{i}" for i in range(self.x_train.shape[1]))]
        return _csv(header, ([int(y), *map(int, x)] for x, y in zip(self.x_train, self.y_train, strict=True)))

    def test_inputs_csv(self) -> bytes:
        """The test inputs without labels, for entrants who predict offline and upload a predictions file."""
        header = ["id", *(f"pixel{i}" for i in range(self.x_test.shape[1]))]
        return _csv(header, ([i, *map(int, x)] for i, x in zip(self.test_ids, self.x_test, strict=True)))

    def predictions_csv(self, predicted: np.ndarray) -> bytes:
        return _csv(["id", "prediction"], zip(self.test_ids, predicted.tolist(), strict=True))


def digits_task() -> DigitsTask:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32)
    return DigitsTask(
        x_train=x[:TRAIN_ROWS],
        y_train=y[:TRAIN_ROWS],
        test_ids=[f"d{i:04d}" for i in range(len(y) - TRAIN_ROWS)],
        x_test=x[TRAIN_ROWS:],
        y_test=y[TRAIN_ROWS:],
    )


def baseline_model(task: DigitsTask) -> tuple[bytes, np.ndarray]:
    """A logistic regression as ONNX (skl2onnx; labels and probabilities, no zipmap) and its test predictions."""
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; a baseline only needs to be decent
        model = LogisticRegression(max_iter=300).fit(task.x_train, task.y_train)
    onnx = to_onnx(model, task.x_train[:1], options={id(model): {"zipmap": False}}, target_opset=17)
    return onnx.SerializeToString(), model.predict(task.x_test)


def load() -> Iterator[str]:
    if Competition.objects.filter(slug=SLUG).exists():
        yield f"  competition  /competitions/{SLUG}/ (already loaded)"
        return
    host_user = User.objects.get(username="host")
    host = Organisation.objects.get(name=HOST_ORGANISATION)
    task = digits_task()
    model, predicted = baseline_model(task)
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
            ("baseline_predictions.csv", task.predictions_csv(predicted), "基线预测文件 / Baseline predictions"),
            ("baseline_model.onnx", model, "基线 ONNX 模型（逻辑回归）/ Baseline ONNX model (logistic regression)"),
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
            scores=_scores(phase, task.predictions_csv(predicted)),
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


def _csv(header: list[str], rows: Iterable[Iterable[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
