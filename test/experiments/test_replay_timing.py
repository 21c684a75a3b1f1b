"""
The input of ``ior demo --replay`` (ior_ros/experiments/replay_timing.py) on a small MCAP bag
written here: messages by publish time, not by the recorder's log time; a command the recorded
robot took placed right after the ``/clock`` message of its receive time; a command it never took
left out; and without the delay topic every command keeps its publish time.
"""

from __future__ import annotations

from pathlib import Path

from mcap.reader import make_reader
from mcap.writer import Writer

from ior_ros.experiments.replay_timing import retime_by_publish_time
from ior_ros.runtime.registry import registry

MS = 1_000_000
CLOCK, CMD, DELAY, STATE = ('rosgraph_msgs/msg/Clock', 'ior_ros/msg/TeleopCommand',
                            'ior_ros/msg/DelayMeasurement', 'ior_ros/msg/RobotState')


def _time(ms: int) -> object:
    return registry().get_class('builtin_interfaces/msg/Time')(sec=ms // 1000,
                                                               nanosec=(ms % 1000) * MS)


def _bag(folder: Path, receipts: dict[int, int] | None,
         states: dict[int, int] | None = None) -> None:
    """/clock every 1 ms of sim time 0..99 (published at wall = sim + 1 s), commands 1..4 relayed
    at sim 10, 20, 30, 40 ms, recorded 50 ms late (log time); ``receipts``: sequence → the sim
    ms the robot took it (a DelayMeasurement each); ``states``: sample ms → the command sequence
    in force after that control sample (a RobotState each)."""
    reg = registry()
    folder.mkdir()
    with open(folder / 'bag.mcap', 'wb') as stream:
        writer = Writer(stream)
        writer.start(profile='ros2', library='test')
        channels = {}
        for topic, typename in (('/clock', CLOCK), ('/robot/cmd', CMD), ('/robot/delay', DELAY),
                                ('/robot/state', STATE)):
            schema = writer.register_schema(typename, 'ros2msg',
                                            reg.message_definition(typename).encode())
            channels[topic] = writer.register_channel(topic, 'cdr', schema)
        wall = 1_000 * MS

        def add(topic: str, typename: str, message: object, pub_ms: int, log_ms: int) -> None:
            writer.add_message(channels[topic], log_time=wall + log_ms * MS,
                               publish_time=wall + pub_ms * MS,
                               data=bytes(reg.serialize(message, typename)))

        for ms in range(100):
            add('/clock', CLOCK, reg.get_class(CLOCK)(clock=_time(ms)), ms, ms)
        for sequence in range(1, 5):
            sent = 10 * sequence
            cmd = reg.get_class(CMD)(sequence=sequence, send_time=_time(sent), deadman=True)
            add('/robot/cmd', CMD, cmd, sent, sent + 50)
        for sequence, taken in (receipts or {}).items():
            delay = reg.get_class(DELAY)(sequence=sequence, receive_time=_time(taken))
            add('/robot/delay', DELAY, delay, taken, taken + 1)
        for sample, in_force in (states or {}).items():
            state = reg.get_class(STATE)(command_sequence=in_force)
            state.header.stamp = _time(sample)
            add('/robot/state', STATE, state, sample, sample + 1)
        writer.finish()


def _replayed(folder: Path) -> list[tuple[str, int, int]]:
    """(topic, sim ms of the /clock just before, sequence or -1) in the order of the copy."""
    reg = registry()
    (found,) = sorted(folder.glob('*.mcap'))
    out: list[tuple[str, int, int]] = []
    now = -1
    with open(found, 'rb') as stream:
        for schema, channel, message in make_reader(stream).iter_messages(log_time_order=True):
            msg = reg.decode(message.data, schema.name)
            if channel.topic == '/clock':
                now = msg.clock.sec * 1000 + msg.clock.nanosec // MS
            else:
                out.append((channel.topic, now, int(msg.sequence)))
    return out


def test_commands_by_publish_time_without_receipts(tmp_path: Path) -> None:
    _bag(tmp_path / 'bag', None)
    count = retime_by_publish_time(tmp_path / 'bag', tmp_path / 'out', ('/clock', '/robot/cmd'),
                                   received_at={'/robot/cmd': '/robot/delay'})
    assert count == 104
    # each command right after the clock of its publish time, not 50 ms later (its log time)
    assert _replayed(tmp_path / 'out') == [('/robot/cmd', 10 * s, s) for s in range(1, 5)]


def test_commands_at_the_robots_receipts_and_untaken_ones_left_out(tmp_path: Path) -> None:
    # command 2 waited 25 ms in a starved robot; command 3 never reached it
    _bag(tmp_path / 'bag', {1: 11, 2: 45, 4: 41})
    count = retime_by_publish_time(tmp_path / 'bag', tmp_path / 'out', ('/clock', '/robot/cmd'),
                                   received_at={'/robot/cmd': '/robot/delay'})
    assert count == 103
    assert _replayed(tmp_path / 'out') == [('/robot/cmd', 11, 1), ('/robot/cmd', 41, 4),
                                           ('/robot/cmd', 45, 2)]
    # the delay topic itself is not replayed, and the copy is a bag ior bag play reads
    assert (tmp_path / 'out' / 'metadata.yaml').is_file()


def test_a_command_taken_on_a_sample_tick_keeps_the_recorded_order(tmp_path: Path) -> None:
    # commands 2 and 3 taken at 30 ms, when a control sample was due as well: the recorded sample
    # at 30 ms shows command 2 already in force (2 came first), but still 2, not 3 (the sample ran
    # before 3 was taken); command 1 at 15 ms is not on a sample tick
    _bag(tmp_path / 'bag', {1: 15, 2: 30, 3: 30}, states={10: 0, 20: 1, 30: 2, 40: 3})
    retime_by_publish_time(tmp_path / 'bag', tmp_path / 'out', ('/clock', '/robot/cmd'),
                           received_at={'/robot/cmd': '/robot/delay'},
                           applied_in={'/robot/cmd': '/robot/state'})
    # 3 goes after the next clock tick, so the replayed sample at 30 ms runs before it
    assert _replayed(tmp_path / 'out') == [('/robot/cmd', 15, 1), ('/robot/cmd', 30, 2),
                                           ('/robot/cmd', 31, 3)]
