"""Membership inference: how well an attacker tells the model's training rows from held-out ones.

The loss-threshold attack (Yeom et al. 2018) scores each row by minus the model's loss on it: a
model that memorised its training rows has lower loss on them. Members are the run's training
rows, non-members the validation and test rows (never trained on). The attack's ROC AUC (0.5:
it cannot tell; 1: it always can), with the Hanley-McNeil standard error, and the true-positive
rate at a 1% false-positive rate (the rows an attacker finds while rarely accusing a
non-member) are the evidence the Evaluate and Compliance pages show, beside the ε a DP-SGD run
spent (core.train.privacy). The run's privacy block in metrics.json (docs/ARCHITECTURE.md,
"metrics.json") holds both.

The stronger online LiRA attack (`lira_audit`, Carlini et al. 2022) trains shadow models of the
run's own network on random halves of all rows and scores each row by a likelihood ratio; it
costs one training per shadow, so the Evaluate page runs it on request and bench/
private_training.py with --lira; it is not part of metrics.json.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

ATTACK = "loss_threshold"
TARGET_FPR = 0.01
# Shadow models the LiRA attack trains (each is one training of the run's network).
DEFAULT_SHADOWS = 8
# Probabilities are clipped to this before taking logs, as Keras' cross-entropy does.
_EPSILON = 1e-7


@dataclass(frozen=True)
class MembershipAudit:
    """The attack's result: AUC, its standard error, TPR at 1% FPR, counts and the ROC curve."""

    auc: float
    auc_se: float
    tpr_at_1pct_fpr: float
    members: int
    non_members: int
    fpr: tuple[float, ...]
    tpr: tuple[float, ...]
    attack: str = ATTACK

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the numbers without the curve."""
        return {
            "attack": self.attack,
            "auc": self.auc,
            "auc_se": self.auc_se,
            "tpr_at_1pct_fpr": self.tpr_at_1pct_fpr,
            "members": self.members,
            "non_members": self.non_members,
        }


def example_losses(task: str, y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Each row's loss: cross-entropy of its true class for classifiers, squared error else."""
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y).reshape(-1)
    if task == "regression":
        return (scores.reshape(-1) - y.astype(np.float64)) ** 2
    if task == "binary":
        p = np.clip(scores.reshape(-1), _EPSILON, 1 - _EPSILON)
        return -np.where(y.astype(np.int64) == 1, np.log(p), np.log(1 - p))
    p = np.clip(scores[np.arange(len(y)), y.astype(np.int64)], _EPSILON, 1.0)
    return -np.log(p)


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Hanley & McNeil (1982): the standard error of a ROC AUC from its counts."""
    if positives < 1 or negatives < 1:
        return math.nan
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    ) / (positives * negatives)
    return float(math.sqrt(max(variance, 0.0)))


def loss_threshold_attack(
    member_losses: np.ndarray, non_member_losses: np.ndarray
) -> MembershipAudit:
    """The attack on two sets of per-row losses: a lower loss says "member"."""
    members = np.asarray(member_losses, dtype=np.float64).reshape(-1)
    others = np.asarray(non_member_losses, dtype=np.float64).reshape(-1)
    if len(members) == 0 or len(others) == 0:
        raise ValueError("the attack needs members and non-members")
    labels = np.concatenate([np.ones(len(members), dtype=bool), np.zeros(len(others), dtype=bool)])
    # Non-finite losses (a blown-up model) rank as the least member-like.
    scores = -np.nan_to_num(np.concatenate([members, others]), nan=np.inf, posinf=np.inf)
    scores = np.nan_to_num(scores, neginf=np.finfo(np.float64).min)
    return _scored_audit(labels, scores, ATTACK)


def _scored_audit(members: np.ndarray, scores: np.ndarray, attack: str) -> MembershipAudit:
    """The audit of an attack's per-row scores (higher: more member-like) against which rows
    are members (a boolean mask): ROC AUC, its standard error, TPR at 1% FPR and the curve."""
    from sklearn.metrics import roc_auc_score, roc_curve

    labels = members.astype(int)
    auc = float(roc_auc_score(labels, scores))
    fpr, tpr, _ = roc_curve(labels, scores)
    positives, negatives = int(members.sum()), int((~members).sum())
    return MembershipAudit(
        auc=auc,
        auc_se=auc_standard_error(auc, positives, negatives),
        tpr_at_1pct_fpr=tpr_at_fpr(fpr, tpr, TARGET_FPR),
        members=positives,
        non_members=negatives,
        fpr=tuple(float(v) for v in fpr),
        tpr=tuple(float(v) for v in tpr),
        attack=attack,
    )


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    """The highest true-positive rate at a false-positive rate of at most `target`."""
    fpr, tpr = np.asarray(fpr), np.asarray(tpr)
    allowed = fpr <= target + 1e-12
    return float(tpr[allowed].max()) if allowed.any() else 0.0


def membership_audit(prepared: Any, run: Any) -> MembershipAudit:
    """The loss-threshold attack on a run: its training rows against its validation and test
    rows (core.prep.pipeline.Prepared)."""
    task = prepared.spec.task
    if len(prepared.y_train) == 0 or len(prepared.y_val) + len(prepared.y_test) == 0:
        raise ValueError("the attack needs members and non-members")
    model = run.build_model() if hasattr(run, "build_model") else run
    held_out_y = np.concatenate([np.asarray(prepared.y_val), np.asarray(prepared.y_test)])
    held_out_X = np.concatenate([prepared.X_val, prepared.X_test])
    member_losses = _losses(model, task, prepared.X_train, prepared.y_train)
    other_losses = _losses(model, task, held_out_X, held_out_y)
    return loss_threshold_attack(member_losses, other_losses)


def logit_losses(task: str, y: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Each row's cross-entropy from the output layer's logits, in float64: unlike
    probabilities, these never round to exactly 0 or 1, so confident rows keep their order."""
    logits = np.asarray(logits, dtype=np.float64)
    codes = np.asarray(y).reshape(-1).astype(np.int64)
    if task == "binary":
        z = logits.reshape(-1)
        return np.logaddexp(0.0, np.where(codes == 1, -z, z))
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    return log_sum - shifted[np.arange(len(codes)), codes]


def _losses(model: Any, task: str, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    # Classifiers: from the logits where the model ends in a Dense layer (ModelDesk's models);
    # otherwise from the predicted probabilities or values.
    X = np.asarray(X, dtype=np.float32)
    layers = getattr(model, "layers", [])
    if task != "regression" and layers and type(layers[-1]).__name__ == "Dense":
        return logit_losses(task, y, _logits(model, X))
    return example_losses(task, y, _scores(model, X))


def _scores(model: Any, X: np.ndarray) -> np.ndarray:
    # The model's output per row, as core.evaluate.metrics.predict_scores computes it (that
    # module imports this one; importing it back would be a cycle).
    from core.train.models import model_outputs

    scores = model_outputs(model, X)
    return scores[:, 0] if scores.ndim == 2 and scores.shape[1] == 1 else scores


def confidence_scores(model: Any, task: str, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """LiRA's statistic per row (Carlini et al. 2022): the logit-scaled confidence in the true
    class, log(p / (1 - p)), from the logits in float64 (near-Gaussian across models, unlike p);
    minus the squared error for regression."""
    y = np.asarray(y).reshape(-1)
    if task == "regression":
        return -example_losses(task, y, _scores(model, np.asarray(X, dtype=np.float32)))
    logits = _logits(model, X)
    codes = y.astype(np.int64)
    if task == "binary":
        z = logits.reshape(-1)
        return np.where(codes == 1, z, -z)
    true = logits[np.arange(len(codes)), codes]
    others = logits.copy()
    others[np.arange(len(codes)), codes] = -np.inf
    top = others.max(axis=1, keepdims=True)
    return true - (top[:, 0] + np.log(np.exp(others - top).sum(axis=1)))


def lira_audit(
    prepared: Any, run: Any, shadows: int = DEFAULT_SHADOWS, seed: int = 0
) -> MembershipAudit:
    """The online likelihood-ratio attack (LiRA, Carlini et al. 2022) with `shadows` shadow
    models: each is the run's own model and training settings (DP included, another seed)
    trained on a random half of all the rows (training, validation and test); for each row the
    statistic of the models that trained on it and of those that did not are fitted with
    Gaussians (per-row means, pooled variances, as the paper does with few shadows), and the
    run's own statistic is scored by the log-likelihood ratio. Costs `shadows` trainings."""
    from dataclasses import replace

    from core.train.engine import TrainingJob

    task = prepared.spec.task
    X = np.concatenate([prepared.X_train, prepared.X_val, prepared.X_test]).astype(np.float32)
    y = np.concatenate(
        [np.asarray(prepared.y_train), np.asarray(prepared.y_val), np.asarray(prepared.y_test)]
    )
    members = np.zeros(len(X), dtype=bool)
    members[: len(prepared.y_train)] = True
    if members.all() or not members.any():
        raise ValueError("the attack needs members and non-members")
    n_classes = len(prepared.preprocessor.classes_)
    rng = np.random.default_rng(seed)
    stats = np.empty((shadows, len(X)))
    inside = np.zeros((shadows, len(X)), dtype=bool)
    for index in range(shadows):
        chosen = rng.permutation(len(X))[: len(X) // 2]
        inside[index, chosen] = True
        spec = replace(run.train_spec, seed=(run.train_spec.seed + 1 + index) % (2**31 - 1))
        job = TrainingJob(run.model_spec, spec, task, n_classes, X[chosen], y[chosen])
        job.start().join()
        shadow = job.result()
        stats[index] = confidence_scores(shadow.build_model(), task, X, y)
    target = confidence_scores(
        run.build_model() if hasattr(run, "build_model") else run, task, X, y
    )
    return _scored_audit(members, _likelihood_ratio(target, stats, inside), "lira")


def _likelihood_ratio(target: np.ndarray, stats: np.ndarray, inside: np.ndarray) -> np.ndarray:
    # log N(target; μ_in, σ_in) - log N(target; μ_out, σ_out), per-row means (the overall mean
    # where a row has no shadow of that kind) and pooled standard deviations.
    finite = np.where(np.isfinite(stats), stats, np.nan)

    def fitted(mask: np.ndarray) -> tuple[np.ndarray, float]:
        values = np.where(mask, finite, np.nan)
        counts = np.sum(~np.isnan(values), axis=0)
        overall = float(np.nanmean(values)) if np.any(counts) else 0.0
        with np.errstate(invalid="ignore"):
            means = np.where(counts > 0, np.nansum(values, axis=0) / np.maximum(counts, 1), overall)
        spread = float(np.nanstd(values - means[None, :])) if np.any(counts) else 1.0
        return means, max(spread, 1e-6)

    mu_in, sd_in = fitted(inside)
    mu_out, sd_out = fitted(~inside)
    t = np.nan_to_num(target, nan=0.0, posinf=1e6, neginf=-1e6)
    log_in = -0.5 * ((t - mu_in) / sd_in) ** 2 - math.log(sd_in)
    log_out = -0.5 * ((t - mu_out) / sd_out) ** 2 - math.log(sd_out)
    return log_in - log_out


def _logits(model: Any, X: np.ndarray) -> np.ndarray:
    # The output layer's pre-activation, in float64 (ModelDesk's models end in a Dense layer).
    layers = model.layers
    hidden = np.asarray(X, dtype=np.float32)
    for layer in layers[:-1]:
        hidden = np.asarray(layer(hidden, training=False))
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in layers[-1].get_weights())
    return hidden.astype(np.float64) @ kernel + bias


def privacy_document(run: Any, audit: MembershipAudit | None) -> dict[str, Any]:
    """metrics.json's "privacy" block: whether DP was on, its ε, δ, σ, C, q, steps and
    accountant (None without DP), and the membership-inference attack's numbers."""
    spent = getattr(run, "privacy", None) or {}
    keys = ("epsilon", "delta", "noise_multiplier", "clip_norm", "sampling_rate", "steps")
    document: dict[str, Any] = {"dp": bool(spent.get("dp", False))}
    document.update({key: spent.get(key) for key in keys})
    document["target_epsilon"] = spent.get("target_epsilon")
    document["accountant"] = spent.get("accountant")
    document["membership_inference"] = None if audit is None else audit.to_dict()
    return document


def privacy_lines(privacy: dict[str, Any] | None, lang: str) -> list[str]:
    """The privacy block in sentences (model card, compliance report): ε and δ when DP was on,
    else that there is no guarantee; then the attack's AUC and TPR at 1% FPR."""
    from core.i18n import t

    block = privacy or {}
    lines = []
    if block.get("dp"):
        epsilon = block.get("epsilon")
        lines.append(
            t(
                "dp.summary.dp_on",
                lang,
                epsilon="∞" if epsilon is None else f"{epsilon:.3g}",
                delta=f"{block.get('delta') or 0:.0e}",
                steps=block.get("steps") or 0,
                sigma=f"{block.get('noise_multiplier') or 0:.3g}",
                clip=f"{block.get('clip_norm') or 0:g}",
                rate=f"{block.get('sampling_rate') or 0:.3g}",
                accountant=str(block.get("accountant") or "").upper(),
            )
        )
    else:
        lines.append(t("dp.summary.dp_off", lang))
    attack = block.get("membership_inference")
    if attack:
        lines.append(
            t(
                "dp.summary.attack",
                lang,
                members=attack["members"],
                non_members=attack["non_members"],
                auc=f"{attack['auc']:.3f}",
                se=f"{attack['auc_se']:.3f}",
                tpr=f"{attack['tpr_at_1pct_fpr']:.3f}",
            )
        )
    else:
        lines.append(t("dp.summary.no_attack", lang))
    return lines
