import pytest

from predictors import create_predictor, list_predictors, register_predictor
from predictors.baselines import RandomBaseline


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="unknown predictor: 'nope'; allowed: ") as err:
        create_predictor("nope")
    assert all(name in str(err.value) for name in list_predictors())


def test_unknown_kwargs_list_allowed():
    with pytest.raises(ValueError, match=r"\['depth'\]; allowed: \[.*'max_depth'"):
        create_predictor("xgb", depth=3)


def test_defaults_per_name_and_duplicates_rejected():
    assert create_predictor("xgb_mt").multi_strategy == "multi_output_tree"
    assert create_predictor("xgb").multi_strategy == "one_output_per_tree"
    assert (
        create_predictor("brp_gin").input_kind == "graphs"
        and create_predictor("brp").input_kind == "features"
        and create_predictor("mtlp_jr").input_kind == "sequences"
    )
    assert create_predictor("flops").cost == "macs" and create_predictor("params").cost == "params"
    with pytest.raises(ValueError, match="already registered"):
        register_predictor("random")(RandomBaseline)
    with pytest.raises(ValueError, match="invalid defaults"):
        register_predictor("random2", nope=1)(RandomBaseline)


def test_bad_hyper_parameter_value_names_it(fixture):
    with pytest.raises(ValueError, match="invalid n_estimators: 0; allowed: an int >= 1"):
        create_predictor("xgb", n_estimators=0).fit(fixture.X, fixture.y)
    with pytest.raises(ValueError, match="invalid encoder: 'rnn'; allowed: one of"):
        create_predictor("brp", encoder="rnn").fit(fixture.X, fixture.y)


@pytest.mark.parametrize("name", ["gin", "brp", "brp_gin", "mtlp_jr"])
def test_min_steps_floors_the_passes_over_a_small_training_set(fixture, name):
    # 30 rows in batches of 8: 4 steps per pass; 2 passes are 8 steps, below a floor of 20 -> 5 passes
    def passes(**kw):
        model = create_predictor(name, epochs=2, batch_size=8, random_state=0, **kw)
        return model.fit(fixture.inputs(model), fixture.y).epochs_

    assert passes(min_steps=0) == 2
    assert passes(min_steps=8) == 2
    assert passes(min_steps=20) == 5
    with pytest.raises(ValueError, match="invalid min_steps: -1; allowed: an int >= 0"):
        passes(min_steps=-1)


def test_traits_are_class_attributes():
    from predictors import predictor_class

    in_module = {n for n in list_predictors() if predictor_class(n).__module__ == "predictors.baselines"}
    assert (
        in_module
        == {n for n in list_predictors() if predictor_class(n).baseline}
        == {"flops", "params", "random"}
    )
    scores = {n for n in list_predictors() if not predictor_class(n).predicts_units}
    assert scores == {"random", "xgb_rank", "lgb_rank", "brp", "brp_gin", "mtlp_jr"}
    assert all(type(create_predictor(n)).predicts_units == predictor_class(n).predicts_units for n in scores)


@pytest.mark.parametrize("bad", ["../outside.json", "/etc/passwd", "missing.json"])
def test_load_predictor_refuses_model_files_outside_its_folder(tmp_path, bad):
    import json

    import numpy as np

    from predictors import create_predictor, load_predictor

    X = np.random.default_rng(0).normal(size=(30, 4))
    folder = create_predictor("xgb", n_estimators=5, random_state=0).fit(X, X.sum(1)).save(tmp_path / "p")
    config = json.loads((folder / "config.json").read_text())
    (tmp_path / "outside.json").write_text((folder / config["state"]["files"][0]).read_text())
    config["state"]["files"] = [bad]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"invalid (model file|predictor path)"):
        load_predictor(folder)


def test_torch_geometric_is_imported_only_by_graph_predictors():
    # importing torch-geometric costs seconds; a tree predictor must not pay for it, and the graph
    # predictors load it without printing its torch.jit deprecation warnings
    import subprocess
    import sys

    code = (
        "import sys, warnings; warnings.simplefilter('error', FutureWarning)\n"
        "import numpy as np; from predictors import create_predictor, encode_graphs\n"
        "X = np.random.default_rng(0).random((20, 3))\n"
        "create_predictor('xgb', n_estimators=5).fit(X, X.sum(1)).predict(X)\n"
        "assert 'torch_geometric' not in sys.modules, 'a tree predictor imported torch_geometric'\n"
        "from nasbench_mt import V1\n"
        "graphs = encode_graphs(V1.sample(3, seed=0))\n"
        "assert type(graphs[0]).__name__ == 'Data' and 'torch_geometric.nn' in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
