import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
# sim_testkit (the nimble-sim process helpers) for the kill -9 restart test
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "sim"))

from testbed.fixtures import *  # noqa: F403
