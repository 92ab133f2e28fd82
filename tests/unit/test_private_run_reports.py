"""A DP-SGD run end to end: the config round-trips, metrics.json's privacy block, the bundle's
model card, the checklist's "privacy of the model" evidence and the compliance report all state
ε, δ and the membership-inference attack."""

import json
from dataclasses import replace

import pytest
from quick_training import trained

from core.compliance.checklist import ChecklistContext, evaluate_checklist
from core.compliance.evidence import run_evidence
from core.compliance.report import ReportInputs, report_html, report_markdown
from core.data.loading import load_sample
from core.deploy.predict_script import model_card
from core.evaluate.metrics import run_metrics
from core.i18n import UserError
from core.train.runner import RunConfig, default_config


@pytest.fixture(scope="module")
def private_run():
    frame = load_sample("breast_cancer").frame
    prepared, run, config = trained(
        frame, "diagnosis", epochs=4, timeout=180, batch_size=64, dp=True, dp_epsilon=2.0
    )
    assert RunConfig.from_json(config.to_json()) == config
    return prepared, run, config


def test_metrics_json_holds_the_privacy_block(private_run):
    prepared, run, _ = private_run
    privacy = run_metrics(prepared, run)["privacy"]
    assert privacy["dp"] is True
    assert 0 < privacy["epsilon"] <= 2.0 + 1e-9
    assert privacy["delta"] == 1e-3  # 1/n rounded down to a power of ten, n in 101..1000
    assert privacy["accountant"] == "rdp" and privacy["steps"] == run.privacy["steps"]
    attack = privacy["membership_inference"]
    assert attack["members"] == len(prepared.y_train)
    assert attack["non_members"] == len(prepared.y_val) + len(prepared.y_test)
    assert 0 <= attack["auc"] <= 1 and attack["auc_se"] > 0
    json.dumps(privacy)  # JSON-ready


def test_model_card_checklist_and_report_state_epsilon_delta_and_the_attack(private_run):
    prepared, run, config = private_run
    metrics = run_metrics(prepared, run)
    privacy = metrics["privacy"]
    epsilon = f"{privacy['epsilon']:.3g}"
    auc = f"{privacy['membership_inference']['auc']:.3f}"
    for lang in ("en", "zh"):
        card = model_card(prepared, run, config, metrics, lang=lang)
        assert f"ε = {epsilon}" in card and "δ = 1e-03" in card and auc in card, card
    facts = run_evidence(run, prepared).facts
    assert facts.privacy == privacy and "privacy" not in facts.metrics
    results = evaluate_checklist(ChecklistContext(model=facts))
    item = next(result for result in results if result.id == "model.privacy")
    keys = [message.key for message in item.evidence]
    assert "dp.evidence.dp_on" in keys or "dp.evidence.dp_weak" in keys
    assert any(key.startswith("dp.evidence.attack_") for key in keys)
    inputs = ReportInputs(results=results, model=facts)
    for lang in ("en", "zh"):
        for text in (report_markdown(inputs, lang), report_html(inputs, lang)):
            assert f"ε = {epsilon}" in text and auc in text


def test_an_overfitting_run_without_dp_warns_on_the_privacy_item():
    from core.compliance.checklist import ModelFacts

    facts = ModelFacts(
        task="binary",
        metric="accuracy",
        value=0.9,
        privacy={
            "dp": False,
            "membership_inference": {
                "auc": 0.8,
                "auc_se": 0.02,
                "tpr_at_1pct_fpr": 0.1,
                "members": 300,
                "non_members": 200,
            },
        },
    )
    results = evaluate_checklist(ChecklistContext(model=facts))
    item = next(result for result in results if result.id == "model.privacy")
    assert item.status == "warn"
    assert [m.key for m in item.evidence][-2:] == ["dp.evidence.dp_off", "dp.evidence.attack_warn"]
    calm = replace(
        facts,
        privacy={
            **facts.privacy,
            "membership_inference": {**facts.privacy["membership_inference"], "auc": 0.52},
        },
    )
    item = next(
        r for r in evaluate_checklist(ChecklistContext(model=calm)) if r.id == "model.privacy"
    )
    assert item.status == "pass"


@pytest.mark.parametrize(
    "bad", [{"dp_epsilon": -1}, {"dp_clip_norm": 0}, {"dp_delta": 2}, {"dp": 1}]
)
def test_a_config_with_bad_dp_values_is_refused(bad):
    frame = load_sample("breast_cancer").frame
    data = json.loads(default_config(frame, "diagnosis").to_json())
    data["train"].update(bad)
    with pytest.raises(UserError):
        RunConfig.from_json(json.dumps(data))


def test_the_private_training_lessons_challenges_read_dp_epsilon_and_the_attack():
    from types import SimpleNamespace

    from core.workshop.challenges import SessionWork, is_done, validate_check
    from core.workshop.lessons import load_lesson

    lesson = load_lesson("private_training")
    assert lesson.model_spec().hidden_layers == (128, 128)
    assert lesson.train_spec().early_stopping is False

    def run(dp, early, epsilon=None, accuracy=0.95, auc=0.6):
        return SimpleNamespace(
            status="finished",
            train_spec=SimpleNamespace(
                dp=dp, early_stopping=early, optimizer="adam", batch_size=32
            ),
            model_spec=SimpleNamespace(kind="mlp"),
            message=None,
            weights=(),
            privacy={"dp": True, "epsilon": epsilon} if dp else None,
            metrics={
                "accuracy": accuracy,
                "privacy": {"membership_inference": {"auc": auc}},
            },
            history={},
            parameters={},
        )

    four, useful = (challenge.check for challenge in lesson.challenges)
    for check in (four, useful):
        validate_check(check, "test")
    runs = [run(False, False), run(False, True), run(True, False, 7.9), run(True, False, 0.99)]
    assert is_done(four, SessionWork(runs=runs))
    assert not is_done(four, SessionWork(runs=runs[:3]))
    assert not is_done(four, SessionWork(runs=[*runs[:3], run(True, False, 2.0)]))
    assert is_done(useful, SessionWork(runs=runs))
    assert not is_done(useful, SessionWork(runs=[run(True, False, 0.99, accuracy=0.8)]))
    attack = {"kind": "run", "conditions": [{"of": "attack_auc", "op": "<", "value": 0.55}]}
    validate_check(attack, "test")
    assert is_done(attack, SessionWork(runs=[run(False, True, auc=0.52)]))
    assert not is_done(attack, SessionWork(runs=[run(False, True, auc=0.7)]))


def test_the_training_script_says_it_trains_without_dp():
    from core.deploy.codegen import training_script

    config = default_config(load_sample("iris").frame, "species")
    plain = training_script(config, 3)
    private = training_script(replace(config, train=replace(config.train, dp=True)), 3)
    assert "WITHOUT differential" in private and "WITHOUT differential" not in plain
    compile(private, "train.py", "exec")
