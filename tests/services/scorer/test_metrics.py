"""Every metric equals its reference (scikit-learn, sacrebleu, rouge-score) to 1e-9 on random data and edge cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer
from sklearn import metrics as sk

from services.scorer.errors import ScoringConfigError
from services.scorer.metrics import METRICS, MetricInput, bootstrap_ci, lcs_length, metric_compute, metric_get

EXACT = {"abs": 1e-9, "rel": 1e-9}
SEEDS = [0, 1, 2]


@pytest.fixture(autouse=True)
def _quiet_references():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns about undefined precision and the like
        yield


def classification(seed: int, n: int = 500, k: int = 4, *, absent_from_predictions: bool = False, ties: bool = False):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, k, n)
    p = rng.integers(0, k - 1 if absent_from_predictions else k, n)
    proba = rng.random((n, k))
    if ties:
        proba = np.round(proba, 1) + 0.05  # many equal scores
    proba /= proba.sum(axis=1, keepdims=True)
    return t, p, proba, MetricInput(n=n, classes=tuple(range(k)), t=t, p=p, proba=proba)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("absent", [False, True], ids=["all-classes", "class-absent-from-predictions"])
def test_label_metrics_equal_scikit_learn(seed: int, absent: bool) -> None:
    t, p, _, data = classification(seed, absent_from_predictions=absent)
    expected = {"accuracy": sk.accuracy_score(t, p), "balanced_accuracy": sk.balanced_accuracy_score(t, p)}
    for which, fn in (("precision", sk.precision_score), ("recall", sk.recall_score), ("f1", sk.f1_score)):
        for average in ("macro", "micro", "weighted"):
            expected[f"{which}_{average}"] = fn(t, p, average=average)
    for name, value in expected.items():
        assert metric_compute(name=name, data=data) == pytest.approx(value, **EXACT), name


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_metrics_equal_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t, p = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    score = np.round(rng.random(300), 2)  # ties
    data = MetricInput(n=300, classes=(0, 1), t=t, p=p, proba=np.stack([1 - score, score], axis=1))
    assert metric_compute(name="precision_binary", data=data) == pytest.approx(sk.precision_score(t, p), **EXACT)
    assert metric_compute(name="recall_binary", data=data) == pytest.approx(sk.recall_score(t, p), **EXACT)
    assert metric_compute(name="f1_binary", data=data) == pytest.approx(sk.f1_score(t, p), **EXACT)
    assert metric_compute(name="roc_auc", data=data) == pytest.approx(sk.roc_auc_score(t, score), **EXACT)
    flipped = metric_compute(name="f1_binary", data=data, params={"pos_label": 0})
    assert flipped == pytest.approx(sk.f1_score(t, p, pos_label=0), **EXACT)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
def test_score_metrics_equal_scikit_learn(seed: int, ties: bool) -> None:
    t, _, proba, data = classification(seed, k=5, ties=ties)
    labels = list(range(5))
    assert metric_compute(name="roc_auc_ovr", data=data) == pytest.approx(
        sk.roc_auc_score(t, proba, multi_class="ovr", labels=labels), **EXACT
    )
    assert metric_compute(name="log_loss", data=data) == pytest.approx(sk.log_loss(t, proba, labels=labels), **EXACT)
    for k in (1, 2, 3):
        ours = metric_compute(name="top_k_accuracy", data=data, params={"k": k})
        assert ours == pytest.approx(sk.top_k_accuracy_score(t, proba, k=k, labels=labels), **EXACT), k


def test_log_loss_clips_certain_mistakes_like_scikit_learn() -> None:
    t = np.array([0, 1, 2])
    proba = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5]])
    data = MetricInput(n=3, classes=(0, 1, 2), t=t, p=proba.argmax(1), proba=proba)
    assert metric_compute(name="log_loss", data=data) == pytest.approx(sk.log_loss(t, proba, labels=[0, 1, 2]), **EXACT)


def test_single_class_edge_cases_match_scikit_learn() -> None:
    t = np.zeros(50, dtype=np.int64)
    p = np.array([0] * 40 + [1] * 10)
    score = np.linspace(0, 1, 50)
    data = MetricInput(n=50, classes=(0, 1), t=t, p=p, proba=np.stack([1 - score, score], axis=1))
    assert np.isnan(metric_compute(name="roc_auc", data=data)) and np.isnan(sk.roc_auc_score(t, score))
    assert metric_compute(name="balanced_accuracy", data=data) == pytest.approx(
        sk.balanced_accuracy_score(t, p), **EXACT
    )
    assert metric_compute(name="f1_macro", data=data) == pytest.approx(sk.f1_score(t, p, average="macro"), **EXACT)
    assert metric_compute(name="f1_binary", data=data) == pytest.approx(sk.f1_score(t, p), **EXACT)  # 0.0
    everything_one_class = MetricInput(n=5, classes=(3,), t=np.zeros(5, np.int64), p=np.zeros(5, np.int64))
    assert metric_compute(name="f1_weighted", data=everything_one_class) == sk.f1_score(
        [3] * 5, [3] * 5, average="weighted"
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_regression_metrics_equal_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(3, 10, 1000)
    y[:5] = 0.0  # MAPE's epsilon guard
    y_pred = y + rng.normal(0, 2, 1000)
    data = MetricInput(n=1000, y_true=y, y_pred=y_pred)
    references = {
        "rmse": sk.root_mean_squared_error,
        "mae": sk.mean_absolute_error,
        "r2": sk.r2_score,
        "mape": sk.mean_absolute_percentage_error,
    }
    for name, fn in references.items():
        assert metric_compute(name=name, data=data) == pytest.approx(fn(y, y_pred), **EXACT), name


def test_r2_of_a_constant_truth_follows_scikit_learn() -> None:
    y = np.full(10, 2.0)
    assert metric_compute(name="r2", data=MetricInput(n=10, y_true=y, y_pred=y)) == sk.r2_score(y, y) == 1.0
    off = y + 1
    assert metric_compute(name="r2", data=MetricInput(n=10, y_true=y, y_pred=off)) == sk.r2_score(y, off) == 0.0


REFS = [
    "The cat sat on the mat.",
    "It's 3.14, not 3,14 -- said Dr. Smith & co.",
    "Hello, world!",
    "合肥 是 安徽 的 省会",
    "a b c d e f g",
    "x",
    "Tokenization (like 13a) splits punctuation: yes/no?",
]
HYPS = [
    "The cat sat on a mat",
    "It is 3.14 not 3,14 said Dr Smith and co.",
    "hello world",
    "合肥 是 省会",
    "a b c d e f h",
    "",
    "Tokenization like 13a splits punctuation : yes / no",
]


def random_texts(seed: int, n: int = 40) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    vocab = ["the", "cat", "sat", "on", "mat", "dog", "ran", ",", ".", "a", "big", "Red", "3.5", "x-y"]
    refs = [" ".join(rng.choice(vocab, rng.integers(1, 15))) for _ in range(n)]
    hyps = [" ".join(rng.choice(vocab, rng.integers(0, 15))) for _ in range(n)]
    return refs, hyps


@pytest.mark.parametrize("seed", [None, 0, 1])
@pytest.mark.parametrize("tokenize", ["13a", "char", "none"])
def test_bleu_equals_sacrebleu(seed: int | None, tokenize: str) -> None:
    refs, hyps = (REFS, HYPS) if seed is None else random_texts(seed)
    data = MetricInput(n=len(refs), refs=refs, hyps=hyps)
    expected = sacrebleu.corpus_bleu(hyps, [refs], tokenize=tokenize).score
    assert metric_compute(name="bleu", data=data, params={"tokenize": tokenize}) == pytest.approx(expected, **EXACT)
    lower = sacrebleu.corpus_bleu(hyps, [refs], lowercase=True).score
    assert metric_compute(name="bleu", data=data, params={"lowercase": True}) == pytest.approx(lower, **EXACT)


@pytest.mark.parametrize("seed", [None, 0, 1])
def test_rouge_l_equals_rouge_score(seed: int | None) -> None:
    refs, hyps = (REFS, HYPS) if seed is None else random_texts(seed)
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    expected = np.mean([scorer.score(r, h)["rougeL"].fmeasure for r, h in zip(refs, hyps, strict=True)])
    data = MetricInput(n=len(refs), refs=refs, hyps=hyps)
    assert metric_compute(name="rouge_l", data=data) == pytest.approx(expected, **EXACT)


def test_bit_parallel_lcs_equals_dynamic_programming() -> None:
    rng = np.random.default_rng(5)
    for _ in range(200):
        a = list(rng.choice(list("abcde"), rng.integers(0, 80)))
        b = list(rng.choice(list("abcde"), rng.integers(0, 80)))
        table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i in range(1, len(a) + 1):
            for j in range(1, len(b) + 1):
                table[i][j] = table[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else max(table[i - 1][j], table[i][j - 1])
        assert lcs_length(a, b) == table[-1][-1]


def test_exact_match_counts_identical_strings() -> None:
    data = MetricInput(n=4, refs=["a", "b", "c ", "中"], hyps=["a", "B", "c", "中"])
    assert metric_compute(name="exact_match", data=data) == sk.accuracy_score(data.refs, data.hyps) == 0.5


def test_every_metric_has_a_direction_and_a_precision() -> None:
    lower_is_better = {name for name, m in METRICS.items() if not m.higher_is_better}
    assert lower_is_better == {"log_loss", "rmse", "mae", "mape"}
    assert all(0 < m.precision <= 6 for m in METRICS.values())
    assert metric_get("accuracy").direction == "higher" and metric_get("rmse").direction == "lower"
    with pytest.raises(ScoringConfigError, match="unknown metric"):
        metric_get("auc-pr")


@pytest.mark.parametrize(
    "name",
    ["accuracy", "f1_macro", "balanced_accuracy", "roc_auc_ovr", "log_loss", "top_k_accuracy", "rmse", "r2", "bleu"],
)
def test_bootstrap_is_deterministic_and_brackets_the_estimate(name: str) -> None:
    _, _, _, data = classification(0, n=400)
    if name in ("rmse", "r2"):
        rng = np.random.default_rng(0)
        y = rng.normal(size=400)
        data = MetricInput(n=400, y_true=y, y_pred=y + rng.normal(0, 0.5, 400))
    if name == "bleu":
        refs, hyps = random_texts(0, n=100)
        data = MetricInput(n=100, refs=refs, hyps=hyps)
    params = {"k": 2}
    first = bootstrap_ci(name=name, data=data, params=params, seed=7)
    again = bootstrap_ci(name=name, data=data, params=params, seed=7)
    other = bootstrap_ci(name=name, data=data, params=params, seed=8)
    assert first == again and first != other and first.resamples == 1000
    assert first.low <= metric_compute(name=name, data=data, params=params) <= first.high
    assert first.low < first.high


def test_the_confusion_bootstrap_matches_row_resampling_in_distribution() -> None:
    """Drawing confusion cells (multinomial) and drawing rows give the same interval, up to resampling noise."""
    t, p, _, data = classification(1, n=2000)
    ours = bootstrap_ci(name="accuracy", data=data, resamples=4000, seed=1)
    rng = np.random.default_rng(2)
    idx = rng.integers(0, 2000, size=(4000, 2000))
    rows = np.percentile((t[idx] == p[idx]).mean(axis=1), [2.5, 97.5])
    assert ours.low == pytest.approx(rows[0], abs=0.004) and ours.high == pytest.approx(rows[1], abs=0.004)
