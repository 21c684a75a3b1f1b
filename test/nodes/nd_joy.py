"""
A scripted joystick for the ``input:=joy`` tests: publishes sensor_msgs/Joy on ``joy`` (reliable,
keep last 10, as joy_node does) at ``rate_hz`` (argv[1]; joy_node repeats an unchanged state at
its autorepeat_rate, 20 Hz by default), through the phases given as the further arguments, each
``SECONDS:AXES:BUTTONS`` with comma-separated values (``3.0:0.8,0.6,0,0:1``), or
``SECONDS:stop`` (nothing published for that long). After the last phase it stops publishing.

Prints ``joy ready`` once the publisher exists, then ``PHASE <index> <wall ns>`` as each phase
starts (wall time: the nodes under test stamp with the same clock of this host), ``LAST <wall
ns>`` at the last Joy of a phase followed by a stop, and ``joy done`` at the end.
"""

from __future__ import annotations

import sys
import time

from ior_ros.runtime import Node, get_message, init, try_shutdown

Joy = get_message('sensor_msgs/msg/Joy')


def _phases(args: list[str]) -> list[tuple[float, list[float], list[int], bool]]:
    """(seconds, axes, buttons, publishing) per phase."""
    phases = []
    for arg in args:
        seconds, *rest = arg.split(':')
        if rest == ['stop']:
            phases.append((float(seconds), [], [], False))
        else:
            axes, buttons = rest
            phases.append((float(seconds), [float(a) for a in axes.split(',') if a],
                           [int(b) for b in buttons.split(',') if b], True))
    return phases


def main() -> None:
    init(args=sys.argv)
    node = Node('joy_stand_in')
    pub = node.create_publisher(Joy, 'joy', 10)
    period_s = 1.0 / float(sys.argv[1])
    phases = _phases(sys.argv[2:])
    time.sleep(1.0)  # discovery: let the operator's reader match before the first phase
    print('joy ready', flush=True)
    msg = Joy()
    msg.header.frame_id = 'joy'
    try:
        for index, (seconds, axes, buttons, publishing) in enumerate(phases):
            start = time.monotonic()
            print(f'PHASE {index} {time.time_ns()}', flush=True)
            following = phases[index + 1] if index + 1 < len(phases) else None
            while time.monotonic() - start < seconds:
                if publishing:
                    msg.header.stamp = node.get_clock().now().to_msg()
                    msg.axes, msg.buttons = axes, buttons
                    pub.publish(msg)
                    last_ns = time.time_ns()
                time.sleep(period_s)
            if publishing and (following is None or not following[3]):
                print(f'LAST {last_ns}', flush=True)
        print('joy done', flush=True)
        time.sleep(3600.0)  # the test kills it
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        try_shutdown()


if __name__ == '__main__':
    main()
