"""
robot_controller's ``schedule_fallback``: what the robot does when the measured delay is beyond
every delay its gain schedule certifies (the shipped schedule: 30 samples of 10 ms). Commands
cross an emulated link with 400 ms of added delay; the robot's ControllerStatus says which gain
is in force and whether it is certified. In one process (runtime/inproc.py), so the run is exact.
"""

from __future__ import annotations

from typing import Any

import pytest

from ior_ros.core.errors import ConfigError
from ior_ros.runtime.inproc import InprocWorld
from ior_ros.runtime.registry import get_message

ControllerStatus = get_message('ior_ros/msg/ControllerStatus')
RADIO = {'cmd_in': '/teleop/cmd', 'cmd_out': '/robot/cmd', 'state_in': '/robot/state',
         'state_out': '/teleop/state'}


def _statuses(fallback: str) -> list[Any]:
    from ior_ros.nodes.ran_emulator import RanEmulator
    from ior_ros.nodes.robot_controller import RobotController
    from ior_ros.nodes.teleop_operator import TeleopOperator

    with InprocWorld(seed=3) as world:
        world.add(TeleopOperator, remaps={'cmd': '/teleop/cmd', 'state': '/teleop/state'})
        world.add(RanEmulator, remaps=RADIO, parameters={'urllc_extra_delay_s': 0.4})
        world.add(RobotController, parameters={'schedule_fallback': fallback,
                                               'always_switch': True, 'video_fps': 0},
                  remaps={'cmd': '/robot/cmd', 'state': '/robot/state',
                          'status': '/robot/status'})
        statuses = world.tap('/robot/status', ControllerStatus)
        world.run(3.0)
    return [s for s in statuses if s.tracking or s.gain_mode == 'stop']


def test_beyond_the_schedule_the_robot_stops_or_says_its_gain_is_uncertified() -> None:
    widest = _statuses('most_conservative')
    late = [s for s in widest if s.delay_bound_samples > 30]
    assert late and all(s.gain_mode == 'scheduled' and not s.certified for s in late)
    stopping = _statuses('stop')
    late = [s for s in stopping if s.delay_bound_samples > 30]
    assert late and all(s.gain_mode == 'stop' for s in late)


def test_a_fallback_that_does_not_exist_is_refused_in_one_line() -> None:
    from ior_ros.nodes.robot_controller import RobotController

    with InprocWorld(seed=1) as world, pytest.raises(ConfigError) as caught:
        world.add(RobotController, parameters={'schedule_fallback': 'pray'})
    assert str(caught.value) == ("parameter 'schedule_fallback' of node /robot_controller: "
                                 "'pray': Input should be 'most_conservative' or 'stop'")
