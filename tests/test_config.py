import re

import pytest

from dlqa.config import load_config, parse_config
from dlqa.core.errors import ConfigError
from dlqa.core.registry import all_specs
from dlqa.starter_config import SourceSummary, starter_config_text


def write(tmp_path, text):
    path = tmp_path / "dlqa.toml"
    path.write_text(text)
    return path


def test_valid_config_resolves_relative_paths(tmp_path):
    config = load_config(
        write(tmp_path, '[data]\nsource = "data"\n[gates]\n"data.dark" = { level = "fail" }\n')
    )
    assert config.resolve(config.data.source) == tmp_path / "data"
    assert config.gates == {"data.dark": {"level": "fail"}}
    assert config.report.formats == ["html", "json", "junit"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[data]\nsourc = "x"\n', "data.sourc: unknown key"),
        ("[dat]\n", "dat: unknown section (allowed: project, store, report, execute, gates"),
        ('[execute]\nworkers = "two"\n', "execute.workers"),
        ("[execute]\nworkers = 0\n", "execute.workers"),
        ('[report]\nformats = ["pdf"]\n', "report.formats"),
        ('[gates]\n"data.darkk" = {}\n', "unknown check id 'data.darkk'"),
        ('[gates]\n"data.dark" = { max_brightnes = 3 }\n', 'gates."data.dark".max_brightnes'),
        ('[gates]\n"data.dark" = { max_brightness = "low" }\n', "max_brightness: Input should be"),
        ('[gates]\n"data.near_duplicates" = { max_fraction = -1 }\n', "max_fraction: Input should"),
        ('[gates]\n"data.class_balance" = { min_per_class = -5 }\n', "min_per_class: Input"),
        ('[gates]\n"data.near_duplicates" = { max_distance = 999 }\n', "max_distance: Input"),
        ('[gates]\n"data.dark" = { on_inconclusive = "pass" }\n', "on_inconclusive"),
        ('[train]\nfast = "m:f"\nfast_command = "python f.py"\n', "either fast"),
        ("[data\n", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(write(tmp_path, text))


def test_unknown_key_lists_the_allowed_keys(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, '[data]\nsourc = "x"\n'))
    assert "allowed: source, path_column, label_column, split_column, id_column" in str(info.value)


def test_missing_config_points_to_init(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "dlqa.toml")
    assert "dlqa init" in str(info.value)


def test_starter_config_parses_back(tmp_path):
    text = starter_config_text("data", name="p", summary=SourceSummary(), specs=all_specs())
    import tomllib

    config = parse_config(tomllib.loads(text), base_dir=tmp_path)
    assert config.data.source == "data"
    for spec in all_specs():
        assert f'"{spec.check_id}"' in text


def test_every_gate_problem_is_listed_at_once(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, '[gates]\n"data.dark" = { max_brightness = -3 }\n'
                                    '"data.nope" = {}\n'))  # fmt: skip
    message = str(info.value)
    assert "max_brightness" in message and "unknown check id 'data.nope'" in message


def test_stage_sections_come_from_the_stage_registry(tmp_path):
    from dlqa.config import config_model

    model = config_model()
    assert {"data", "train"} <= set(model.model_fields)
    config = load_config(write(tmp_path, '[train]\nmodel = "m:build"\n'))
    assert config.section("train").model == "m:build"
    assert config.section("data").source is None


def test_the_starter_config_of_an_audio_project_lists_only_what_runs_on_audio():
    summary = SourceSummary(modality="audio")
    text = starter_config_text("clips", name="p", summary=summary, specs=all_specs())
    assert '"data.near_silent"' in text and '"data.unreadable"' in text
    assert '"data.blurry"' not in text and '"data.mojibake"' not in text
    near = next(line for line in text.splitlines() if '"data.near_duplicates"' in line)
    assert "audio_min_similarity" in near and "max_distance" not in near
    assert "text_min_similarity" not in near
