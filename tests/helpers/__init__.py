"""Test helpers for the edge agent: real mosquitto and RTSP servers, an MQTT collector, fakes."""
