"""MaskWatch edge agent: cameras -> faces -> mask verdicts -> MQTT."""

__version__ = "0.1.0"
