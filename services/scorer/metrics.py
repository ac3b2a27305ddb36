"""Exact metrics in numpy, each with its direction and display precision, a registry by name, and bootstrap CIs.

Values equal scikit-learn's (BLEU: sacrebleu's corpus BLEU; ROUGE-L: Google's rouge-score) to 1e-9; the tests
hold them to it. Classification metrics work on a confusion matrix, so one bincount serves all of them and
their bootstrap draws confusion matrices instead of rows (the same distribution, at the cost of K² cells).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from services.scorer.errors import ScoringConfigError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Params = Mapping[str, Any]
EPS = float(np.finfo(np.float64).eps)
BOOTSTRAP_CELLS = 4_000_000  # elements per chunk of row resamples: bounds memory at ~32 MB


@dataclass(frozen=True)
class MetricInput:
    """One split's aligned truth and predictions, in the form metrics read.

    Classification: `t` and `p` are class codes (int64) into `classes`; `proba` (n, K) follows the same order
    (None when only labels were submitted). Regression: `y_true`, `y_pred` (float64). Text: `refs`, `hyps`.
    """

    n: int
    classes: tuple[Any, ...] = ()
    t: IntArray | None = None
    p: IntArray | None = None
    proba: FloatArray | None = None
    y_true: FloatArray | None = None
    y_pred: FloatArray | None = None
    refs: Sequence[str] | None = None
    hyps: Sequence[str] | None = None

    @cached_property
    def confusion(self) -> IntArray:
        """K × K counts, rows true, columns predicted."""
        assert self.t is not None and self.p is not None
        k = len(self.classes)
        return np.bincount(self.t * k + self.p, minlength=k * k).reshape(k, k).astype(np.int64)


@dataclass(frozen=True)
class Metric:
    """A named metric. `compute` gives the exact value; one of `from_confusion`, `row_stats` + `from_sums`,
    or `resampled` lets the bootstrap evaluate 1,000 resamples at once."""

    name: str
    needs: str  # "labels", "scores" (class probabilities), "values" (regression) or "texts"
    higher_is_better: bool
    precision: int  # decimals shown on leaderboards
    compute: Callable[[MetricInput, Params], float]
    from_confusion: Callable[[IntArray, Params, MetricInput], FloatArray] | None = None
    row_stats: Callable[[MetricInput, Params], FloatArray] | None = None
    from_sums: Callable[[FloatArray, int], FloatArray] | None = None
    resampled: Callable[[MetricInput, IntArray, Params], FloatArray] | None = None

    @property
    def direction(self) -> str:
        return "higher" if self.higher_is_better else "lower"


@dataclass(frozen=True)
class ConfidenceInterval:
    low: float
    high: float
    confidence: float
    resamples: int
    seed: int


# --------------------------------------------------------------------------- classification, from confusion


def _div(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """numerator / denominator, 0 where the denominator is 0 (scikit-learn's zero_division default)."""
    safe = np.where(denominator == 0, 1, denominator)
    return np.where(denominator == 0, 0.0, numerator / safe)


def _accuracy_cm(cm: IntArray, params: Params, data: MetricInput) -> FloatArray:
    return np.trace(cm, axis1=-2, axis2=-1) / cm.sum(axis=(-2, -1))


def _balanced_accuracy_cm(cm: IntArray, params: Params, data: MetricInput) -> FloatArray:
    # Mean recall over the classes present in the truth (a class only predicted has no recall).
    tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(np.float64)
    true = cm.sum(axis=-1).astype(np.float64)
    present = true > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        return (_div(tp, true) * present).sum(axis=-1) / present.sum(axis=-1)


def pos_code(data: MetricInput, params: Params) -> int:
    """The code of the positive class (`pos_label`, default 1 or "1"), or -1 when no row has it."""
    pos_label = params.get("pos_label", 1)
    for code, label in enumerate(data.classes):
        if label == pos_label or str(label) == str(pos_label):
            return code
    return -1


def _prf(which: str, average: str) -> Callable[[IntArray, Params, MetricInput], FloatArray]:
    def from_confusion(cm: IntArray, params: Params, data: MetricInput) -> FloatArray:
        tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(np.float64)
        predicted = cm.sum(axis=-2).astype(np.float64)
        true = cm.sum(axis=-1).astype(np.float64)
        if average == "micro":
            tp, predicted, true = tp.sum(axis=-1), predicted.sum(axis=-1), true.sum(axis=-1)
        values = {
            "precision": lambda: _div(tp, predicted),
            "recall": lambda: _div(tp, true),
            # 2tp / (2tp + fp + fn): scikit-learn's form, 0 when the class is nowhere.
            "f1": lambda: _div(2 * tp, predicted + true),
        }[which]()
        if average == "micro":
            return values
        if average == "binary":
            code = pos_code(data, params)
            if len(data.classes) > 2:
                raise ScoringConfigError(f"{which}_binary needs two classes; the data has {len(data.classes)}")
            return values[..., code] if code >= 0 else np.zeros(values.shape[:-1])
        if average == "macro":
            present = (predicted + true) > 0  # scikit-learn averages over the labels seen in truth or predictions
            return (values * present).sum(axis=-1) / np.maximum(present.sum(axis=-1), 1)
        # weighted by support
        support = true.sum(axis=-1)
        return _div((values * true).sum(axis=-1), support)

    return from_confusion


def _from_confusion_compute(
    fn: Callable[[IntArray, Params, MetricInput], FloatArray],
) -> Callable[[MetricInput, Params], float]:
    def compute(data: MetricInput, params: Params) -> float:
        return float(fn(data.confusion[None], params, data)[0])

    return compute


# --------------------------------------------------------------------------- ranking (ROC AUC)


def average_ranks(x: FloatArray) -> FloatArray:
    """1-based ranks along the last axis, ties sharing their average rank (scipy's rankdata 'average')."""
    n = x.shape[-1]
    order = np.argsort(x, axis=-1, kind="stable")
    ordered = np.take_along_axis(x, order, axis=-1)
    starts = np.ones(x.shape, dtype=bool)
    starts[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
    position = np.broadcast_to(np.arange(n), x.shape)
    first = np.maximum.accumulate(np.where(starts, position, 0), axis=-1)
    ends = np.ones(x.shape, dtype=bool)
    ends[..., :-1] = starts[..., 1:]
    last = np.flip(np.minimum.accumulate(np.flip(np.where(ends, position, n), axis=-1), axis=-1), axis=-1)
    ranks = np.empty(x.shape, dtype=np.float64)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=-1)
    return ranks


def roc_auc_batch(positive: npt.NDArray[np.bool_], score: FloatArray) -> FloatArray:
    """ROC AUC along the last axis as the Mann-Whitney U statistic with average ranks: equal to the area
    under the ROC curve with ties as diagonal segments (scikit-learn's). NaN where one class is absent."""
    ranks = average_ranks(score)
    n_pos = positive.sum(axis=-1).astype(np.float64)
    n_neg = positive.shape[-1] - n_pos
    rank_sum = (ranks * positive).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    return np.where((n_pos == 0) | (n_neg == 0), np.nan, auc)


def _scores(data: MetricInput) -> FloatArray:
    if data.proba is None:
        raise ScoringConfigError("this metric needs class probabilities (output 'proba')")
    return data.proba


def _roc_auc_resampled(data: MetricInput, idx: IntArray, params: Params) -> FloatArray:
    assert data.t is not None
    code = pos_code(data, params)
    return roc_auc_batch(data.t[idx] == code, _binary_score(data, code)[idx])


def _binary_score(data: MetricInput, code: int) -> FloatArray:
    proba = _scores(data)
    if len(data.classes) > 2:
        raise ScoringConfigError(f"roc_auc is for two classes; use roc_auc_ovr for {len(data.classes)}")
    return proba[:, code] if code >= 0 else np.zeros(data.n)


def _roc_auc(data: MetricInput, params: Params) -> float:
    return float(_roc_auc_resampled(data, np.arange(data.n)[None], params)[0])


def _roc_auc_ovr_resampled(data: MetricInput, idx: IntArray, params: Params) -> FloatArray:
    """Macro mean of one-vs-rest AUCs over the classes present in the (resampled) truth."""
    assert data.t is not None
    proba = _scores(data)
    t = data.t[idx]
    aucs = np.stack([roc_auc_batch(t == k, proba[:, k][idx]) for k in range(len(data.classes))], axis=-1)
    defined = np.isfinite(aucs)
    count = defined.sum(axis=-1)
    return np.where(count > 0, np.where(defined, aucs, 0.0).sum(axis=-1) / np.maximum(count, 1), np.nan)


def _roc_auc_ovr(data: MetricInput, params: Params) -> float:
    return float(_roc_auc_ovr_resampled(data, np.arange(data.n)[None], params)[0])


# --------------------------------------------------------------------------- per-row statistics


def _mean_of(rows: Callable[[MetricInput, Params], FloatArray]) -> Callable[[MetricInput, Params], float]:
    def compute(data: MetricInput, params: Params) -> float:
        return float(np.mean(rows(data, params)))

    return compute


def _mean_from_sums(sums: FloatArray, n: int) -> FloatArray:
    return sums[..., 0] / n


def _log_loss_rows(data: MetricInput, params: Params) -> FloatArray:
    assert data.t is not None
    proba = np.clip(_scores(data), EPS, 1 - EPS)  # scikit-learn clips to [eps, 1 - eps] and does not renormalise
    return -np.log(proba[np.arange(data.n), data.t])[:, None]


def _top_k_rows(data: MetricInput, params: Params) -> FloatArray:
    """Hit when fewer than k classes outrank the true one; among equal scores the higher class index ranks
    first (scikit-learn sorts with a stable argsort and reverses it)."""
    assert data.t is not None
    k = int(params.get("k", 5))
    proba = _scores(data)
    true_score = proba[np.arange(data.n), data.t][:, None]
    index = np.arange(proba.shape[1])[None, :]
    ahead = (proba > true_score) | ((proba == true_score) & (index > data.t[:, None]))
    return (ahead.sum(axis=1) < k).astype(np.float64)[:, None]


def _errors(data: MetricInput) -> FloatArray:
    assert data.y_true is not None and data.y_pred is not None
    return data.y_pred - data.y_true


def _rmse(data: MetricInput, params: Params) -> float:
    return float(np.sqrt(np.mean(_errors(data) ** 2)))


def _rmse_from_sums(sums: FloatArray, n: int) -> FloatArray:
    return np.sqrt(sums[..., 0] / n)


def _squared_rows(data: MetricInput, params: Params) -> FloatArray:
    return (_errors(data) ** 2)[:, None]


def _absolute_rows(data: MetricInput, params: Params) -> FloatArray:
    return np.abs(_errors(data))[:, None]


def _mape_rows(data: MetricInput, params: Params) -> FloatArray:
    assert data.y_true is not None
    return (np.abs(_errors(data)) / np.maximum(np.abs(data.y_true), EPS))[:, None]


def _r2(data: MetricInput, params: Params) -> float:
    assert data.y_true is not None
    residual = float(np.sum(_errors(data) ** 2))
    total = float(np.sum((data.y_true - np.mean(data.y_true)) ** 2))
    if total == 0:
        return 1.0 if residual == 0 else 0.0  # scikit-learn's force_finite rule
    return 1.0 - residual / total


def _r2_rows(data: MetricInput, params: Params) -> FloatArray:
    assert data.y_true is not None
    return np.stack([_errors(data) ** 2, data.y_true, data.y_true**2], axis=1)


def _r2_from_sums(sums: FloatArray, n: int) -> FloatArray:
    residual, total = sums[..., 0], sums[..., 2] - sums[..., 1] ** 2 / n
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - residual / total
    return np.where(total <= 0, np.where(residual == 0, 1.0, 0.0), r2)


# --------------------------------------------------------------------------- text


def _texts(data: MetricInput) -> tuple[Sequence[str], Sequence[str]]:
    assert data.refs is not None and data.hyps is not None
    return data.refs, data.hyps


def _exact_rows(data: MetricInput, params: Params) -> FloatArray:
    refs, hyps = _texts(data)
    return np.fromiter((r == h for r, h in zip(refs, hyps, strict=True)), dtype=np.float64, count=data.n)[:, None]


# sacrebleu's "13a" tokenizer (mteval-v13a.pl, as used by WMT), rule for rule:
# sacrebleu/tokenizers/tokenizer_13a.py and tokenizer_re.py (sacrebleu 2.x).
_13A_RULES = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
]


def tokenize_13a(line: str) -> list[str]:
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} "
    for pattern, replacement in _13A_RULES:
        line = pattern.sub(replacement, line)
    return line.split()


BLEU_TOKENIZERS: dict[str, Callable[[str], list[str]]] = {
    "13a": tokenize_13a,
    "char": lambda line: [c for c in line if not c.isspace()],  # sacrebleu's "char": one token per character
    "none": str.split,
}
BLEU_ORDER = 4


def _bleu_rows(data: MetricInput, params: Params) -> FloatArray:
    """Per segment: hypothesis length, reference length, matches and totals for n = 1..4 (sacrebleu's stats)."""
    tokenize = BLEU_TOKENIZERS[params.get("tokenize", "13a")]
    lowercase = bool(params.get("lowercase", False))
    refs, hyps = _texts(data)
    rows = np.zeros((data.n, 2 + 2 * BLEU_ORDER))
    for i, (ref, hyp) in enumerate(zip(refs, hyps, strict=True)):
        if lowercase:
            ref, hyp = ref.lower(), hyp.lower()
        ref_tokens, hyp_tokens = tokenize(ref.rstrip()), tokenize(hyp.rstrip())
        rows[i, 0], rows[i, 1] = len(hyp_tokens), len(ref_tokens)
        for n in range(1, BLEU_ORDER + 1):
            hyp_grams = Counter(tuple(hyp_tokens[j : j + n]) for j in range(len(hyp_tokens) - n + 1))
            ref_grams = Counter(tuple(ref_tokens[j : j + n]) for j in range(len(ref_tokens) - n + 1))
            rows[i, 1 + n] = sum(min(count, ref_grams[gram]) for gram, count in hyp_grams.items())
            rows[i, 1 + BLEU_ORDER + n] = sum(hyp_grams.values())
    return rows


def _bleu_from_sums(sums: FloatArray, n: int) -> FloatArray:
    """sacrebleu's compute_bleu with 'exp' smoothing, over a batch of summed statistics; 0–100."""
    sys_len, ref_len = sums[..., 0], sums[..., 1]
    correct, total = sums[..., 2 : 2 + BLEU_ORDER], sums[..., 2 + BLEU_ORDER :]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        bp = np.where(sys_len < ref_len, np.where(sys_len > 0, np.exp(1 - ref_len / sys_len), 0.0), 1.0)
        zero = correct == 0
        smooth = 2.0 ** np.cumsum(zero, axis=-1)  # each order without a match halves the next smoothed precision
        precision = np.where(zero, 100.0 / (smooth * total), 100.0 * correct / total)
        log_precision = np.where(total > 0, np.log(np.where(total > 0, precision, 1.0)), -9999999999.0)
        score = bp * np.exp(log_precision.sum(axis=-1) / BLEU_ORDER)
    return np.where(correct.sum(axis=-1) == 0, 0.0, score)


def _bleu(data: MetricInput, params: Params) -> float:
    return float(_bleu_from_sums(_bleu_rows(data, params).sum(axis=0)[None], data.n)[0])


# rouge-score's default tokenizer (rouge_score/tokenize.py, no stemming): lowercase, keep [a-z0-9] runs.
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def rouge_tokens(text: str, mode: str = "default") -> list[str]:
    if mode == "char":  # one token per non-space character: for Chinese, which the default drops entirely
        return [c for c in text.lower() if not c.isspace()]
    return [token for token in _NON_ALNUM.sub(" ", text.lower()).split() if token]


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Longest common subsequence length with the bit-parallel algorithm of Hyyrö (2004), O(len(a)·len(b)/w)."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for token in b:
        u = v & masks.get(token, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count("1")


def _rouge_l_rows(data: MetricInput, params: Params) -> FloatArray:
    mode = params.get("tokenize", "default")
    refs, hyps = _texts(data)
    rows = np.zeros(data.n)
    for i, (ref, hyp) in enumerate(zip(refs, hyps, strict=True)):
        ref_tokens, hyp_tokens = rouge_tokens(ref, mode), rouge_tokens(hyp, mode)
        lcs = lcs_length(ref_tokens, hyp_tokens)
        if lcs:
            precision, recall = lcs / len(hyp_tokens), lcs / len(ref_tokens)
            rows[i] = 2 * precision * recall / (precision + recall)
    return rows[:, None]


# --------------------------------------------------------------------------- the registry


def _confusion_metric(name: str, fn: Callable[[IntArray, Params, MetricInput], FloatArray]) -> Metric:
    return Metric(name, "labels", True, 4, _from_confusion_compute(fn), from_confusion=fn)


def _row_metric(
    name: str,
    needs: str,
    higher: bool,
    precision: int,
    rows: Callable[[MetricInput, Params], FloatArray],
    compute: Callable[[MetricInput, Params], float] | None = None,
    from_sums: Callable[[FloatArray, int], FloatArray] = _mean_from_sums,
) -> Metric:
    return Metric(name, needs, higher, precision, compute or _mean_of(rows), row_stats=rows, from_sums=from_sums)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        _confusion_metric("accuracy", _accuracy_cm),
        _confusion_metric("balanced_accuracy", _balanced_accuracy_cm),
        *(
            _confusion_metric(f"{which}_{average}", _prf(which, average))
            for which in ("precision", "recall", "f1")
            for average in ("binary", "macro", "micro", "weighted")
        ),
        Metric("roc_auc", "scores", True, 4, _roc_auc, resampled=_roc_auc_resampled),
        Metric("roc_auc_ovr", "scores", True, 4, _roc_auc_ovr, resampled=_roc_auc_ovr_resampled),
        _row_metric("log_loss", "scores", False, 5, _log_loss_rows),
        _row_metric("top_k_accuracy", "scores", True, 4, _top_k_rows),
        _row_metric("rmse", "values", False, 4, _squared_rows, compute=_rmse, from_sums=_rmse_from_sums),
        _row_metric("mae", "values", False, 4, _absolute_rows),
        _row_metric("r2", "values", True, 4, _r2_rows, compute=_r2, from_sums=_r2_from_sums),
        _row_metric("mape", "values", False, 4, _mape_rows),
        _row_metric("exact_match", "texts", True, 4, _exact_rows),
        _row_metric("bleu", "texts", True, 2, _bleu_rows, compute=_bleu, from_sums=_bleu_from_sums),
        _row_metric("rouge_l", "texts", True, 4, _rouge_l_rows),
    ]
}


def metric_get(name: str) -> Metric:
    """The metric registered under `name`; ScoringConfigError naming the known ones otherwise."""
    try:
        return METRICS[name]
    except KeyError:
        raise ScoringConfigError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}") from None


def metric_compute(*, name: str, data: MetricInput, params: Params | None = None) -> float:
    """The exact value of metric `name` on `data` (NaN where it is undefined, e.g. AUC with one class)."""
    return metric_get(name).compute(data, params or {})


def bootstrap_ci(
    *,
    name: str,
    data: MetricInput,
    params: Params | None = None,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> ConfidenceInterval:
    """Percentile bootstrap interval of metric `name`: `resamples` draws of n rows with replacement.

    Deterministic for a given seed and data. Resamples where the metric is undefined are left out.
    """
    metric = metric_get(name)
    params = params or {}
    rng = np.random.default_rng(seed)
    n = data.n
    if metric.from_confusion is not None:
        cm = data.confusion
        k = cm.shape[0]
        cells = rng.multinomial(n, cm.ravel() / cm.sum(), size=resamples).reshape(resamples, k, k)
        values = metric.from_confusion(cells, params, data)
    elif metric.row_stats is not None and metric.from_sums is not None:
        rows = metric.row_stats(data, params)
        chunk = max(1, BOOTSTRAP_CELLS // max(1, n * rows.shape[1]))
        parts = []
        for start in range(0, resamples, chunk):
            idx = rng.integers(0, n, size=(min(chunk, resamples - start), n))
            parts.append(metric.from_sums(rows[idx].sum(axis=1), n))
        values = np.concatenate(parts)
    else:
        assert metric.resampled is not None
        chunk = max(1, BOOTSTRAP_CELLS // max(1, n * max(1, len(data.classes))))
        parts = []
        for start in range(0, resamples, chunk):
            idx = rng.integers(0, n, size=(min(chunk, resamples - start), n))
            parts.append(metric.resampled(data, idx, params))
        values = np.concatenate(parts)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return ConfidenceInterval(math.nan, math.nan, confidence, resamples, seed)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return ConfidenceInterval(float(low), float(high), confidence, resamples, seed)
