"""Every data check declares the range of its parameters; dlqa.toml values outside it are
refused when the file is read, naming the parameter."""

import pytest

from dlqa.core.errors import ConfigError
from dlqa.core.params import param_range
from dlqa.core.registry import all_specs, get_spec

DATA_SPECS = all_specs("data")


def test_every_data_parameter_is_documented_and_bounded():
    assert DATA_SPECS
    for spec in DATA_SPECS:
        for name in spec.defaults:
            assert spec.param_docs.get(name), f"{spec.check_id}.{name} has no doc"
            assert param_range(spec.params_model, name), f"{spec.check_id}.{name} has no range"


def test_defaults_lie_inside_their_ranges():
    for spec in DATA_SPECS:
        assert spec.resolve_params({}) == spec.resolve_params(spec.defaults)


@pytest.mark.parametrize(
    ("check_id", "name", "value"),
    [
        ("data.exact_duplicates", "max_fraction", -1),
        ("data.near_duplicates", "max_fraction", 1.5),
        ("data.near_duplicates", "max_distance", 999),
        ("data.near_duplicates", "max_distance", -1),
        ("data.split_leakage", "min_correlation", 2.0),
        ("data.conflicting_labels", "max_colour_distance", -3.0),
        ("data.class_balance", "min_per_class", -5),
        ("data.class_balance", "max_ratio", 0.5),
        ("data.label_names", "max_groups", -1),
        ("data.property_outliers", "max_z", 0),
        ("data.property_outliers", "min_class_size", 0),
        ("data.dark", "max_brightness", 300),
        ("data.bright", "min_brightness", -1),
        ("data.low_contrast", "min_contrast", 200),
        ("data.blurry", "min_sharpness", -0.5),
        ("data.low_information", "min_entropy", 9),
        ("data.odd_size", "min_side", 0),
        ("data.odd_size", "max_aspect", 0.9),
        ("data.unreadable", "max_fraction", 2),
    ],
)
def test_out_of_range_values_are_refused_naming_the_parameter(check_id, name, value):
    with pytest.raises(ConfigError) as caught:
        get_spec(check_id).resolve_params({name: value})
    assert f'gates."{check_id}".{name}' in str(caught.value)


@pytest.mark.parametrize(
    "check_id", [spec.check_id for spec in DATA_SPECS if "max_fraction" in spec.defaults]
)
def test_max_fraction_below_zero_is_refused(check_id):
    spec = get_spec(check_id)
    with pytest.raises(ConfigError, match="max_fraction"):
        spec.resolve_params({"max_fraction": -1})


@pytest.mark.parametrize(
    ("check_id", "overrides"),
    [
        ("data.near_duplicates", {"max_fraction": 0, "max_distance": 0}),
        ("data.near_duplicates", {"max_fraction": 1.0, "max_distance": 32}),
        ("data.split_leakage", {"min_correlation": -1.0, "max_colour_distance": 510}),
        ("data.class_balance", {"min_per_class": 0, "max_ratio": 1}),
        ("data.property_outliers", {"max_z": 3.5, "min_class_size": 1}),
        ("data.blurry", {"min_sharpness": 0}),
        ("data.low_information", {"min_entropy": 8}),
        ("data.odd_size", {"min_side": 1, "max_aspect": 1.0}),
    ],
)
def test_values_inside_the_range_pass(check_id, overrides):
    params = get_spec(check_id).resolve_params(overrides)
    for name, value in overrides.items():
        assert params[name] == value


def test_min_per_class_and_max_distance_errors_name_the_parameter():
    with pytest.raises(ConfigError, match="min_per_class"):
        get_spec("data.class_balance").resolve_params({"min_per_class": -5})
    with pytest.raises(ConfigError, match="max_distance"):
        get_spec("data.near_duplicates").resolve_params({"max_distance": 999})
