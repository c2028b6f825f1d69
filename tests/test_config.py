"""chatter.config: generated example files, precedence, every kind of bad value, check_secret."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest
import yaml

from chatter import config as config_mod
from chatter.config import (
    EXAMPLE_SECRET,
    SETTINGS,
    check_secret,
    example_env,
    example_yaml,
    load_config,
)
from chatter.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


# -- the committed example files are generated from SETTINGS ---------------------


def test_config_example_yml_matches_generator():
    committed = (ROOT / "config.example.yml").read_text(encoding="utf-8")
    assert committed == example_yaml(), (
        "config.example.yml drifted: run `chatter print-config --example`"
    )


def test_example_env_matches_generator():
    committed = (ROOT / "example.env").read_text(encoding="utf-8")
    assert committed == example_env(), "example.env drifted: run `chatter print-config --env`"


def test_example_yaml_lists_every_setting_with_help_and_loads_back(tmp_path):
    text = example_yaml()
    data = yaml.safe_load(text)
    for s in SETTINGS:
        assert s.key in data[s.section], s.dotted
        assert f"# {s.help} [{s.unit}]" in text
    path = tmp_path / "config.yml"
    path.write_text(text)
    cfg = load_config(config_file=path, env={})
    for s in SETTINGS:
        assert getattr(getattr(cfg, s.section), s.key) == s.default, s.dotted


def test_example_env_lists_every_setting_and_loads_back():
    env = {}
    for line in example_env().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    for s in SETTINGS:
        assert s.env in env, s.env
    env.pop("VITE_API_ORIGIN")
    cfg = load_config(env=env, use_file=False)
    for s in SETTINGS:
        assert getattr(getattr(cfg, s.section), s.key) == s.default, s.dotted


def test_the_examples_carry_no_key_and_say_how_to_make_one(tmp_path):
    """A copied example must not sign tokens with a key everyone knows (README: default empty)."""
    assert next(s for s in SETTINGS if s.dotted == "auth.secret").default == ""
    yml, env = example_yaml(), example_env()
    assert yaml.safe_load(yml)["auth"]["secret"] == ""
    assert "\nCHATTER_AUTH_SECRET=\n" in env
    assert EXAMPLE_SECRET not in yml and EXAMPLE_SECRET not in env
    for text in (yml, env):
        hint = text.split("secrets.token_urlsafe(48)", 1)
        assert len(hint) == 2 and "python3 -c 'import secrets; print(" in hint[0].rsplit("\n", 1)[-1]
    # Copied as it is: dev mode uses a generated key; production refuses to start without one.
    (tmp_path / "config.yml").write_text(yml)
    cfg = load_config(config_file=tmp_path / "config.yml", env={})
    assert cfg.auth.secret == "" and cfg.server.dev is True
    assert check_secret(cfg.auth.secret, dev=False) is not None


def test_every_setting_is_documented():
    seen = set()
    for s in SETTINGS:
        assert s.section in config_mod.SECTIONS
        assert s.dotted not in seen
        seen.add(s.dotted)
        assert s.help.strip() and s.unit.strip()
        assert s.env == f"CHATTER_{s.section.upper()}_{s.key.upper()}"
        if s.type in (int, float) and s.default is not None:
            assert s.minimum is None or s.default >= s.minimum, s.dotted
            assert s.maximum is None or s.default <= s.maximum, s.dotted


def test_section_classes_and_settings_table_agree_exactly():
    """Each section class has one typed field per SETTINGS row, with the row's default, and nothing else."""
    for section in config_mod.SECTIONS:
        cls = getattr(config_mod, f"{section.capitalize()}Config")
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls
        assert "__slots__" in vars(cls), cls
        rows = [s for s in SETTINGS if s.section == section]
        fields = dataclasses.fields(cls)
        assert [f.name for f in fields] == [s.key for s in rows], section
        hints = typing.get_type_hints(cls)
        for f, s in zip(fields, rows, strict=True):
            hint = hints[f.name]
            if s.type is list:
                assert hint == list[str], s.dotted
                assert f.default_factory() == s.default, s.dotted  # type: ignore[misc]
                assert f.default_factory() is not s.default, s.dotted  # type: ignore[misc]  # a fresh list
            else:
                assert hint is s.type, s.dotted
                assert f.default == s.default, s.dotted
                assert type(s.default) is s.type, s.dotted
    loaded = load_config(env={}, use_file=False)
    assert type(loaded.realtime) is config_mod.RealtimeConfig
    for s in SETTINGS:
        section_cls = type(getattr(loaded, s.section))
        assert getattr(section_cls(), s.key) == s.default == getattr(getattr(loaded, s.section), s.key), s.dotted


# -- precedence -------------------------------------------------------------------


def test_defaults_without_file_or_env():
    cfg = load_config(env={}, use_file=False)
    assert cfg.source == "defaults"
    for s in SETTINGS:
        assert getattr(getattr(cfg, s.section), s.key) == s.default


def test_precedence_defaults_yaml_env_overrides(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text(
        "server:\n  port: 1111\n  log_level: debug\nrealtime:\n  typing_ttl: 3.5\n"
        "store:\n  path: from-yaml.db\n"
    )
    env = {"CHATTER_SERVER_PORT": "2222", "CHATTER_STORE_PATH": "from-env.db"}
    cfg = load_config(config_file=path, env=env, overrides={"server.port": "3333"})
    assert cfg.server.port == 3333  # overrides beat env
    assert cfg.store.path == "from-env.db"  # env beats yaml
    assert cfg.server.log_level == "debug"  # yaml beats defaults
    assert cfg.realtime.typing_ttl == 3.5
    assert cfg.server.host == "127.0.0.1"  # default
    assert cfg.source == str(path)
    cfg = load_config(config_file=path, env=env)
    assert cfg.server.port == 2222
    cfg = load_config(config_file=path, env={})
    assert cfg.server.port == 1111 and cfg.store.path == "from-yaml.db"


def test_default_config_yml_in_cwd_and_chatter_config_env(tmp_path, monkeypatch):
    (tmp_path / "config.yml").write_text("server:\n  port: 4444\n")
    other = tmp_path / "other.yml"
    other.write_text("server:\n  port: 5555\n")
    monkeypatch.chdir(tmp_path)
    assert load_config(env={}).server.port == 4444
    assert load_config(env={"CHATTER_CONFIG": str(other)}).server.port == 5555
    assert load_config(env={}, use_file=False).server.port == 8080
    (tmp_path / "config.yml").unlink()
    assert load_config(env={}).server.port == 8080  # an absent implicit file is fine


def test_empty_yaml_and_empty_sections_are_defaults(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("")
    assert load_config(config_file=path, env={}).server.port == 8080
    path.write_text("server:\nauth:\n")
    assert load_config(config_file=path, env={}).server.port == 8080


def test_value_coercion():
    cfg = load_config(
        env={
            "CHATTER_SERVER_DEV": "off",
            "CHATTER_SERVER_ALLOWED_ORIGINS": "https://a, https://b,",
            "CHATTER_AUTH_TOKEN_TTL": " 120 ",
        },
        use_file=False,
    )
    assert cfg.server.dev is False
    assert cfg.server.allowed_origins == ["https://a", "https://b"]
    assert cfg.auth.token_ttl == 120.0
    for raw, expected in (
        ("1", True),
        ("yes", True),
        ("TRUE", True),
        ("on", True),
        ("0", False),
        ("no", False),
        ("False", False),
    ):
        assert load_config(env={"CHATTER_SERVER_DEV": raw}, use_file=False).server.dev is expected
    cfg = load_config(
        env={}, use_file=False, overrides={"server.port": 0, "server.max_body": "1024"}
    )
    assert cfg.server.port == 0 and cfg.server.max_body == 1024


def test_config_is_frozen():
    cfg = load_config(env={}, use_file=False)
    with pytest.raises(AttributeError):
        cfg.server.port = 1  # type: ignore[misc]


# -- bad values ---------------------------------------------------------------------


BAD_OVERRIDES = [
    ("server.port", "eighty", "non-int"),
    ("server.port", "80.5", "float for int"),
    ("server.port", "-1", "below min"),
    ("server.port", "65536", "above max"),
    ("server.max_body", "1023", "below min"),
    ("server.max_body", str(16 * 1024 * 1024 + 1), "above max"),
    ("auth.bcrypt_rounds", "3", "below min"),
    ("auth.bcrypt_rounds", "17", "above max"),
    ("auth.token_ttl", "nan", "NaN"),
    ("auth.token_ttl", "abc", "non-number"),
    ("realtime.typing_ttl", "0.1", "float below min"),
    ("server.dev", "maybe", "bad bool"),
    ("server.dev", "2", "bad bool digit"),
    ("server.log_level", "verbose", "bad choice"),
    ("server.log_level", "INFO", "choice is case-sensitive"),
]


@pytest.mark.parametrize(
    "dotted,raw,case", BAD_OVERRIDES, ids=[f"{d}={r} ({c})" for d, r, c in BAD_OVERRIDES]
)
def test_bad_values_name_the_setting(tmp_path, dotted, raw, case):
    with pytest.raises(ConfigError, match=dotted.replace(".", r"\.")):
        load_config(env={}, use_file=False, overrides={dotted: raw})
    env_name = "CHATTER_" + dotted.replace(".", "_").upper()
    with pytest.raises(ConfigError) as info:
        load_config(env={env_name: raw}, use_file=False)
    assert dotted in str(info.value) and env_name in str(info.value)
    section, key = dotted.split(".")
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump({section: {key: raw}}))
    with pytest.raises(ConfigError) as info:
        load_config(config_file=path, env={})
    assert dotted in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize("yaml_value", ["true", "[1, 2]", "{a: 1}", "null"])
def test_bad_yaml_types_name_the_setting(tmp_path, yaml_value):
    path = tmp_path / "c.yml"
    path.write_text(f"server:\n  port: {yaml_value}\n")
    with pytest.raises(ConfigError, match=r"server\.port"):
        load_config(config_file=path, env={})


def test_bad_list_and_string_types(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("server:\n  allowed_origins: [1, 2]\n")
    with pytest.raises(ConfigError, match=r"server\.allowed_origins"):
        load_config(config_file=path, env={})
    path.write_text("store:\n  path: [a]\n")
    with pytest.raises(ConfigError, match=r"store\.path"):
        load_config(config_file=path, env={})


def test_unknown_key_section_env_var_and_override(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("server:\n  prot: 80\n")
    with pytest.raises(ConfigError, match=r"server\.prot"):
        load_config(config_file=path, env={})
    path.write_text("sever:\n  port: 80\n")
    with pytest.raises(ConfigError, match="sever"):
        load_config(config_file=path, env={})
    path.write_text("server: 80\n")
    with pytest.raises(ConfigError, match="server"):
        load_config(config_file=path, env={})
    with pytest.raises(ConfigError, match="CHATTER_SERVER_PROT"):
        load_config(env={"CHATTER_SERVER_PROT": "80"}, use_file=False)
    with pytest.raises(ConfigError, match=r"server\.prot"):
        load_config(env={}, use_file=False, overrides={"server.prot": "80"})
    with pytest.raises(ConfigError, match="nosection"):
        load_config(env={}, use_file=False, overrides={"nosection": "80"})
    # Unrelated variables are ignored.
    assert load_config(env={"HOME": "/root", "CHATTERBOX": "x"}, use_file=False).server.port == 8080


@pytest.mark.parametrize("text", ["- server\n- store\n", "just a string\n", "42\n"])
def test_yaml_that_is_not_a_mapping(tmp_path, text):
    path = tmp_path / "c.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="mapping"):
        load_config(config_file=path, env={})


@pytest.mark.parametrize(
    "text", ["server:\n  port: [1,\n", "server:\n\tport: 1\n", "a: b: c\n", "{unclosed\n"]
)
def test_invalid_yaml(tmp_path, text):
    path = tmp_path / "c.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="YAML") as info:
        load_config(config_file=path, env={})
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)  # one line


def test_non_utf8_yaml(tmp_path):
    path = tmp_path / "c.yml"
    path.write_bytes(b"server:\n  host: \xff\xfe\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(config_file=path, env={})


def test_missing_explicit_file(tmp_path):
    missing = tmp_path / "nope.yml"
    with pytest.raises(ConfigError, match="nope.yml"):
        load_config(config_file=missing, env={})
    with pytest.raises(ConfigError, match="nope.yml"):
        load_config(env={"CHATTER_CONFIG": str(missing)})
    with pytest.raises(ConfigError):
        load_config(config_file=tmp_path, env={})  # a directory is not a file


# -- check_secret -------------------------------------------------------------------


def test_check_secret_outside_dev():
    for bad in ("", EXAMPLE_SECRET, "x" * 31, "é" * 15):
        reason = check_secret(bad, dev=False)
        assert reason and "auth.secret" in reason, bad
        assert "\n" not in reason
    assert check_secret("", dev=False) != check_secret("x" * 31, dev=False)
    assert check_secret("x" * 32, dev=False) is None
    assert check_secret("é" * 16, dev=False) is None  # 32 bytes
    assert check_secret("k" * 200, dev=False) is None


def test_check_secret_dev_accepts_anything():
    for s in ("", EXAMPLE_SECRET, "short", "x" * 64):
        assert check_secret(s, dev=True) is None


def test_as_dict_redacts_secret():
    cfg = load_config(env={"CHATTER_AUTH_SECRET": "s" * 40}, use_file=False)
    assert config_mod.as_dict(cfg)["auth"]["secret"] == "<redacted>"  # noqa: S105
    assert config_mod.as_dict(cfg, redact=False)["auth"]["secret"] == "s" * 40
    assert config_mod.as_dict(load_config(env={}, use_file=False))["auth"]["secret"] == ""


# -- where each value came from (print-config) ------------------------------------


def test_sources_name_the_origin_of_every_setting(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("server:\n  port: 1111\n  log_level: debug\nstore:\n  path: from-yaml.db\n")
    cfg = load_config(config_file=path, env={"CHATTER_SERVER_PORT": "2222", "CHATTER_STORE_BATCH_MAX": "9"},
                      overrides={"server.port": "3333", "store.readers": "2"},
                      origins={"server.port": "--port", "store.readers": "--set"})
    assert cfg.sources["server.port"] == "--port"  # the flag beat the environment and the file
    assert cfg.sources["store.batch_max"] == "environment CHATTER_STORE_BATCH_MAX"
    assert cfg.sources["server.log_level"] == cfg.sources["store.path"] == str(path)
    assert cfg.sources["store.readers"] == "--set"
    assert cfg.sources["server.host"] == config_mod.DEFAULT
    assert set(cfg.sources) == {s.dotted for s in SETTINGS}
    with pytest.raises(TypeError):
        cfg.sources["server.host"] = "tampered"  # type: ignore[index]  # the Config stays frozen


def test_effective_yaml_comments_each_value_with_its_origin_and_loads_back(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("server:\n  log_level: debug\n")
    odd = "http://a.example:1,http://b.example # not a comment"
    cfg = load_config(config_file=path, env={"CHATTER_SERVER_ALLOWED_ORIGINS": odd, "CHATTER_AUTH_SECRET": "s" * 40},
                      overrides={"server.port": "9000"}, origins={"server.port": "--port"})
    text = config_mod.effective_yaml(cfg)
    lines = text.splitlines()
    assert "  port: 9000  # from --port" in lines
    assert f"  log_level: debug  # from {path}" in lines
    assert "  host: 127.0.0.1  # default" in lines
    assert any(line.endswith("# from environment CHATTER_SERVER_ALLOWED_ORIGINS") for line in lines)
    assert "s" * 40 not in text and "<redacted>  # from environment CHATTER_AUTH_SECRET" in text
    # Still YAML: the comments do not change the values.
    data = yaml.safe_load(text)
    assert data["server"]["allowed_origins"] == ["http://a.example:1", "http://b.example # not a comment"]
    assert data["server"]["port"] == 9000 and data["store"]["path"] == "chatter.db"
    for s in SETTINGS:
        assert s.key in data[s.section], s.dotted


# -- messages a person can read ---------------------------------------------------


@pytest.mark.parametrize("dotted,raw,message", [
    ("server.port", "99999", "server.port must be a port number between 0 and 65535, got 99999"),
    ("server.port", "-1", "server.port must be a port number between 0 and 65535, got -1"),
    ("server.backlog", "5", "server.backlog must be between 16 and 65535 connections, got 5"),
    ("server.shutdown_grace", "0.1", "server.shutdown_grace must be between 0.5 and 600 seconds, got 0.1"),
    ("realtime.inbox", "2000000", "realtime.inbox must be between 1 and 1000000 commands, got 2000000"),
])
def test_range_errors_read_as_a_sentence(dotted, raw, message):
    with pytest.raises(ConfigError) as info:
        load_config(env={}, use_file=False, overrides={dotted: raw}, origins={dotted: "--set"})
    assert str(info.value) == f"--set: {message}"


@pytest.mark.parametrize("text,where", [
    ("server:\n  port: 1\n\thost: x\n", "line 3, column 1"),
    ("server:\n  port: 1\n   host: x\n", "line 3, column 8"),
    ("server:\n  port: [1, 2\nstore: {}\n", "line 3, column 6"),
])
def test_yaml_errors_give_line_and_column(tmp_path, text, where):
    path = tmp_path / "c.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(config_file=path, env={})
    assert str(info.value).startswith(f"{path} {where}: not valid YAML: "), str(info.value)


def test_bad_settings_in_a_file_name_their_line(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("server:\n  host: 0.0.0.0\n  port: 99999\n")
    with pytest.raises(ConfigError, match=r"c\.yml line 3: server\.port must be a port number"):
        load_config(config_file=path, env={})
    path.write_text("store:\n  path: x.db\n\n  pth: y.db\n")
    with pytest.raises(ConfigError, match=r"c\.yml line 4: unknown setting 'store\.pth'"):
        load_config(config_file=path, env={})


def test_config_file_that_is_a_directory_says_so(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(config_file=tmp_path, env={})
