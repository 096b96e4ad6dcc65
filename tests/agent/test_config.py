"""Config: one schema; errors name the key, the value and what is allowed; secrets from the environment."""

import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_is_valid():
    cfg = load_config(ROOT / "config.yaml", env={})
    assert cfg.cameras and cfg.detector.type == "centerface"
    assert cfg.mqtt.password is None  # empty env default -> no password, never a literal


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        ({"detector": {"type": "yolo"}}, ["detector", "'centerface'", "'yolo'"]),
        ({"log_level": "LOUD"}, ["log_level", "'DEBUG'", "'LOUD'"]),
        ({"mqtt": {"pasword": "x"}}, ["mqtt.pasword", "unknown key"]),
        ({"mqtt": {"port": 70000}}, ["mqtt.port", "65535", "70000"]),
        ({"cameras": [{"name": "a", "source": {"type": "rtsp", "url": "http://x"}}]},
         ["cameras[0].source.url", "rtsp://"]),
        ({"cameras": [{"name": "a", "source": {"type": "webcam"}}]}, ["cameras[0].source", "'usb'", "'webcam'"]),
        ({"cameras": [{"name": "a/b", "source": {"type": "usb"}}]}, ["cameras[0].name", "not a valid name"]),
        ({"cameras": [{"name": "a", "source": {"type": "usb"}}, {"name": "a", "source": {"type": "usb"}}]},
         ["unique", "a"]),
        ({"cameras": [{"name": "a", "source": {"type": "usb"}, "roi": [[0, 0], [2, 0], [1, 1]]}]},
         ["cameras[0].roi", "0.0..1.0"]),
        ({"tracker": {"votes": 9, "window": 3}}, ["tracker", "votes"]),
        ({"mqtt": {"password": "${MW_TEST_UNSET}"}}, ["mqtt.password", "MW_TEST_UNSET"]),
    ],
)
def test_invalid_config_names_key_and_allowed(data, fragments):
    with pytest.raises(ConfigError) as err:
        parse_config(data, env={})
    for fragment in fragments:
        assert fragment in str(err.value)


def test_env_substitution_and_defaults():
    cfg = parse_config(
        {"mqtt": {"username": "${U}", "password": "${P}", "port": "${PORT:-1884}"}},
        env={"U": "agent", "P": "s3cret"},
    )
    assert cfg.mqtt.username == "agent"
    assert cfg.mqtt.password.get_secret_value() == "s3cret"
    assert cfg.mqtt.port == 1884
    assert "s3cret" not in repr(cfg)  # secrets are never printed


def test_cli_exits_2_naming_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("detector:\n  type: yolo\n")
    proc = subprocess.run([sys.executable, "-m", "edge_agent", "config", "check", "--config", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "detector" in proc.stderr and "centerface" in proc.stderr


@pytest.mark.parametrize("text", ["cameras: [unclosed", "- just\n- a list\n"])
def test_unreadable_yaml_is_a_config_error(tmp_path, text):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError):
        load_config(f, env={})


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml", env={})
