"""
robot_controller when its process is starved of CPU: ``/clock`` goes on, the control timer calls
once after the gap (rcl's semantics), and the simulated plant must not lose the time it missed
(robot_controller's docstring: missed samples). In one process (runtime/inproc.py): the gap is
made by a tick that does nothing for a while, as a process that gets no CPU does nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ior_ros.runtime.inproc import InprocWorld
from ior_ros.runtime.registry import get_message

ControllerStatus = get_message('ior_ros/msg/ControllerStatus')
RADIO = {'cmd_in': '/teleop/cmd', 'cmd_out': '/robot/cmd', 'state_in': '/robot/state',
         'state_out': '/teleop/state'}
GAP_S = (1.5, 1.8)  # [s] the robot gets no CPU
RUN_S = 3.0


def _run(starve: bool, catch_up: bool = True) -> tuple[Any, list[Any]]:
    from ior_ros.nodes.ran_emulator import RanEmulator
    from ior_ros.nodes.robot_controller import RobotController
    from ior_ros.nodes.teleop_operator import TeleopOperator

    with InprocWorld(seed=5) as world:
        world.add(TeleopOperator, remaps={'cmd': '/teleop/cmd', 'state': '/teleop/state'})
        world.add(RanEmulator, remaps=RADIO)
        robot = world.add(RobotController, parameters={'video_fps': 0},
                          remaps={'cmd': '/robot/cmd', 'state': '/robot/state',
                                  'status': '/robot/status'})
        statuses = world.tap('/robot/status', ControllerStatus)
        tick = robot.tick
        if not catch_up:
            robot.missed_samples = lambda now_ns: []

        def starved_tick() -> None:
            if starve and GAP_S[0] <= world.now_s < GAP_S[1]:
                return
            tick()

        robot.timer.callback = starved_tick
        world.run(RUN_S)
    return robot, statuses


def test_a_starved_robot_is_where_the_dynamics_put_it_not_behind() -> None:
    fed, _ = _run(starve=False)
    starved, statuses = _run(starve=True)
    gap_samples = round((GAP_S[1] - GAP_S[0]) / fed.period_s)
    # the plant was stepped over every period of the run, the missed ones too
    assert starved.step == fed.step
    assert starved.missed == gap_samples - 1 or starved.missed == gap_samples
    assert statuses[-1].samples_missed == starved.missed
    # the missed samples run late, with the commands that arrived in the gap: the robot ends
    # near the fed one, whereas a robot that lost the gap is behind by what the set-point moved
    moved = np.linalg.norm(fed.set_pos - fed.position())
    near = np.linalg.norm(starved.position() - fed.position())
    lost, _ = _run(starve=True, catch_up=False)
    behind = np.linalg.norm(lost.position() - fed.position())
    print(f'starved 0.3 s: {near * 1e3:.1f} mm from the fed robot with the missed samples run, '
          f'{behind * 1e3:.1f} mm without (tracking error of the fed robot {moved * 1e3:.1f} mm)')
    assert lost.step < fed.step - gap_samples + 2
    assert near < 0.05 and behind > 3 * near
