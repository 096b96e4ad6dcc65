"""``maskwatch agent`` in its own process with a scripted detector and classifier, for kill tests:

    python tests/helpers/fake_agent_main.py CONFIG.yaml

The real runtime (capture worker, outbox, MQTT link, signals, /healthz) runs unchanged; only the analysis
is scripted: two faces that appear for 1.5 s and vanish for 0.8 s (helpers.fakes.BlinkingDetector), always
``without_mask``. With ``tracker.max_age_s`` below 0.8 s every appearance is a new person, so violations
keep coming at a steady rate whatever the machine's load.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from helpers.fakes import BlinkingDetector, FakeClassifier  # noqa: E402

from edge_agent.config import CameraConfig, Config, load_config  # noqa: E402
from edge_agent.pipeline import FramePipeline  # noqa: E402
from edge_agent.runtime import Runtime  # noqa: E402

BOXES = [[100, 100, 200, 220], [500, 200, 600, 320]]


def factory(config: Config, camera: CameraConfig) -> FramePipeline:
    return FramePipeline(config, camera, detector=BlinkingDetector(BOXES),  # type: ignore[arg-type]
                         classifier=FakeClassifier("without_mask"))  # type: ignore[arg-type]


def main() -> int:
    path = Path(sys.argv[1])
    config = load_config(path)
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return Runtime(config, config_path=path, pipeline_factory=factory).run()


if __name__ == "__main__":
    raise SystemExit(main())
