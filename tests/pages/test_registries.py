"""One list per concept, proved through the app: an optimizer added to the registry alone (and
its texts) is offered by the Train page, trains, shows its update rule and is written by the
training script; a reloaded tab gets its privacy settings back."""

from __future__ import annotations

from apptest_helpers import APP, open_app, poll_until_done
from streamlit.testing.v1 import AppTest

from core.deploy.codegen import training_script
from core.i18n import catalog_for
from core.train import optimizers
from core.train.engine import TrainSpec, formulas_for, make_optimizer
from core.train.models import first_model_spec

TOY_LATEX = r"\theta_{t+1} = \theta_t + \tfrac{1}{2} v_t - \eta\, g_t"


def register_toy_optimizer(monkeypatch) -> None:
    """What adding an optimizer takes: one registry entry and its texts in both languages."""
    toy = optimizers.Optimizer("toy", "SGD", TOY_LATEX, {"momentum": 0.5})
    monkeypatch.setitem(optimizers.REGISTRY, "toy", toy)
    for lang, name in (("en", "Toy heavy ball"), ("zh", "玩具重球法")):
        catalog = catalog_for(lang)
        monkeypatch.setitem(catalog, "train.optimizer.toy", name)
        monkeypatch.setitem(catalog, "train.formula.toy.title", f"{name}: update")
        monkeypatch.setitem(catalog, "train.formula.toy.explain", f"{name}: half the velocity.")


def test_an_optimizer_added_to_the_registry_reaches_engine_formula_script_and_page(monkeypatch):
    register_toy_optimizer(monkeypatch)
    spec = TrainSpec(optimizer="toy", learning_rate=0.01)
    built = make_optimizer(spec)
    assert type(built).__name__ == "SGD" and built.momentum == 0.5
    formula = formulas_for(first_model_spec(), spec, "regression")[-1]
    assert (formula.name, formula.latex) == ("toy", TOY_LATEX)
    assert formula.title.text("zh") == "玩具重球法: update"

    at = open_app("en", "pages/train.py", timeout=120)
    at.button(key="train_preset").click().run()
    picker = at.selectbox(key="train_optimizer")
    assert "Toy heavy ball" in picker.options
    picker.set_value("toy").run()
    at.slider(key="train_epochs").set_value(3).run()
    assert not at.exception, at.exception
    assert any(TOY_LATEX in element.value for element in at.get("latex"))
    config = at.session_state["train_config"]
    assert config.train.optimizer == "toy"
    script = training_script(config, 1)
    assert "keras.optimizers.SGD(0.01, momentum=0.5)" in script
    compile(script, "train_model.py", "exec")
    at.button(key="train_train").click().run()
    poll_until_done(at)
    run = next(iter(at.session_state["runs"].values()))
    assert (run.status, run.train_spec.optimizer) == ("finished", "toy")
    assert any("Toy heavy ball" in frame.value.to_string() for frame in at.dataframe)


def test_a_reloaded_tab_gets_its_privacy_settings_back():
    at = open_app("en", "pages/train.py", timeout=120)
    at.button(key="train_preset").click().run()
    at.checkbox(key="train_dp").check().run()
    at.number_input(key="train_dp_epsilon").set_value(1.5).run()
    at.number_input(key="train_dp_clip").set_value(2.5).run()
    at.number_input(key="train_dp_delta").set_value(1e-4).run()
    assert not at.exception, at.exception
    token = at.session_state["_resume_token"]

    reloaded = AppTest.from_file(str(APP), default_timeout=120)  # a new session, same token
    reloaded.session_state["lang"] = "en"
    reloaded.query_params["resume"] = token
    reloaded.run()
    reloaded.switch_page("pages/train.py")
    reloaded.run()
    assert not reloaded.exception, reloaded.exception
    assert reloaded.checkbox(key="train_dp").value is True
    assert reloaded.number_input(key="train_dp_epsilon").value == 1.5
    assert reloaded.number_input(key="train_dp_clip").value == 2.5
    assert reloaded.number_input(key="train_dp_delta").value == 1e-4
    train = reloaded.session_state["train_config"].train
    assert (train.dp, train.dp_epsilon, train.dp_clip_norm, train.dp_delta) == (
        True,
        1.5,
        2.5,
        1e-4,
    )
