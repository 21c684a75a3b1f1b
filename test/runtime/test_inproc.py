"""
The in-process world (ior_ros.runtime.inproc): real node classes of the runtime, no DDS, on the
world's virtual clock. Each test builds small nodes (defined here) or shipped ones
(clock_publisher) and checks what they saw: the time every kind of clock reads, the order timers
fire in, that names/parameters/remaps reach the node as a launch file's would, keep-last queues,
FIFO delivery after the publishing callback, raw bytes both ways, sim time from /clock, and that
two runs with one seed give the same bytes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ior_ros.core.errors import IorError
from ior_ros.runtime.clock import Clock, ClockType, Duration
from ior_ros.runtime.inproc import InprocError, InprocWorld
from ior_ros.runtime.node import Node
from ior_ros.runtime.qos import QoSProfile, ReliabilityPolicy
from ior_ros.runtime.registry import get_message, serialize

Int64 = get_message('std_msgs/msg/Int64')
String = get_message('std_msgs/msg/String')
Float64MultiArray = get_message('std_msgs/msg/Float64MultiArray')

LOG: list[tuple[int, str, Any]] = []  # (world time read by the node, who, what) of each callback


class Ticker(Node):  # type: ignore[misc]
    """Three timers, each on another kind of clock; every callback logs what its clock reads."""

    def __init__(self) -> None:
        super().__init__('ticker')
        self.steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.system = Clock(clock_type=ClockType.SYSTEM_TIME)
        period = self.declare_parameter('period_s', 0.3).value
        self.create_timer(period, lambda: self._log('ros'))
        self.create_timer(0.2, lambda: self._log('steady'), clock=self.steady)
        self.create_timer(0.1, lambda: self._log('system'), clock=self.system)

    def _log(self, who: str) -> None:
        reads = (self.get_clock().now().nanoseconds, self.steady.now_ns(), self.system.now_ns())
        LOG.append((reads[0], f'{self.get_name()}.{who}', reads))


class Talker(Node):  # type: ignore[misc]
    """Every 0.1 s publishes five Int64 on ``out`` (a random base from its ``seed``), then notes
    that its callback returned."""

    def __init__(self) -> None:
        super().__init__('talker')
        self.gain = self.declare_parameter('gain', 1.0).value
        self.seed = self.declare_parameter('seed', 0).value
        self.rng = np.random.default_rng(self.seed)
        self.pub = self.create_publisher(Int64, 'out', QoSProfile(depth=10))
        self.returned = 0
        self.create_timer(0.1, self.tick)

    def tick(self) -> None:
        base = int(self.rng.integers(0, 1000)) * 10
        for k in range(5):
            self.pub.publish(Int64(data=base + k))
        self.returned += 1


class Listener(Node):  # type: ignore[misc]
    """Subscribes to ``/out`` with the depth in its parameter ``depth``; logs what it gets and
    whether the talker's callback had returned by then."""

    talker: Talker | None = None

    def __init__(self) -> None:
        super().__init__('listener')
        depth = self.declare_parameter('depth', 10).value
        best_effort = self.declare_parameter('best_effort', False).value
        qos = QoSProfile(depth=depth, reliability=ReliabilityPolicy.BEST_EFFORT if best_effort
                         else ReliabilityPolicy.RELIABLE)
        self.create_subscription(Int64, '/out', self.on_msg, qos)
        self.create_subscription(Int64, '/out', self.on_raw, 10, raw=True)

    def on_msg(self, msg: Any) -> None:
        returned = Listener.talker.returned if Listener.talker else None
        LOG.append((self.get_clock().now().nanoseconds, self.get_name(), (msg.data, returned)))

    def on_raw(self, data: bytes) -> None:
        LOG.append((self.get_clock().now().nanoseconds, f'{self.get_name()}.raw', data))


@pytest.fixture(autouse=True)
def _clear_log() -> None:
    LOG.clear()
    Listener.talker = None


def test_every_clock_reads_virtual_time_and_timers_fire_in_time_order() -> None:
    with InprocWorld(seed=0, start_s=5.0) as world:
        world.add(Ticker)
        world.add(Ticker, name='second', parameters={'period_s': 0.1})
        assert world.now_ns == 5_000_000_000
        steps: list[int] = []
        world.run(5.6, progress=steps.append)  # virtual ms done, every 100 ms
        assert world.now_ns == 5_600_000_000
        assert steps == [100] * 6
    times = [t for t, _, _ in LOG]
    assert times == sorted(times)
    # every clock read the world's time, whatever its type
    assert all(reads == (t, t, t) for t, _, reads in LOG)
    # calls at whole multiples of each period from the start; ties in creation order
    at = {t: [who for s, who, _ in LOG if s == t] for t in times}
    ns = 1_000_000_000
    assert at[5 * ns + 600_000_000] == ['ticker.ros', 'ticker.steady', 'ticker.system',
                                         'second.ros', 'second.steady', 'second.system']
    assert at[5 * ns + 100_000_000] == ['ticker.system', 'second.ros', 'second.system']
    counts = {who: sum(1 for _, w, _ in LOG if w == who) for who in
              ('ticker.ros', 'ticker.steady', 'ticker.system', 'second.ros')}
    assert counts == {'ticker.ros': 2, 'ticker.steady': 3, 'ticker.system': 6, 'second.ros': 6}


def test_name_namespace_parameters_and_remaps_reach_the_node() -> None:
    with InprocWorld(seed=4) as world:
        talker = world.add(Talker, name='renamed', namespace='/robot',
                           parameters={'gain': 2.5}, remaps={'out': '/elsewhere'})
        other = world.add(Talker, name='fixed', parameters={'seed': 17})
        assert talker.get_fully_qualified_name() == '/robot/renamed'
        assert talker.gain == 2.5
        assert talker.pub.topic_name == '/elsewhere'
        assert other.pub.topic_name == '/out'
        assert other.seed == 17  # an explicit seed wins over the world's
        assert 0 <= talker.seed < 2**31 and talker.seed not in (0, 17)  # the world's
        moved = world.tap('/elsewhere', Int64)
        plain = world.tap('/out', Int64)
        world.run(0.1)
        assert [m.data % 10 for m in moved] == [0, 1, 2, 3, 4] and len(plain) == 5
        # the graph is the world's: node names and the topics' endpoints
        assert talker.get_node_names_and_namespaces() == [('fixed', '/'), ('renamed', '/robot')]
        assert talker.count_publishers('/elsewhere') == 1
        # one-line refusals: a second node of one name, a value no parameter can hold
        with pytest.raises(InprocError, match=r'^node name /robot/renamed: the world already'):
            world.add(Talker, name='renamed', namespace='/robot')
        with pytest.raises(InprocError, match=r"^parameter 'gain' of node x: \{'a': 1\} is not"):
            world.add(Talker, name='x', parameters={'gain': {'a': 1}})
        with pytest.raises(IorError, match='gain'):  # the runtime's own type check
            world.add(Talker, name='y', parameters={'gain': 'fast'})
    with pytest.raises(InprocError, match='closed'):
        world.run(1.0)


def test_keep_last_queues_fifo_after_the_callback_and_raw_bytes() -> None:
    with InprocWorld(seed=1) as world:
        Listener.talker = world.add(Talker)
        world.add(Listener, name='deep', parameters={'depth': 10})
        world.add(Listener, name='shallow', parameters={'depth': 2})
        world.add(Listener, name='strict', parameters={'best_effort': False})
        world.run(0.1)
    typed = [(who, what) for t, who, what in LOG if not who.endswith('.raw')]
    assert all(t == 100_000_000 for t, _, _ in LOG)  # delivered at the publishing instant
    assert all(returned == 1 for _, (_, returned) in typed)  # after the publisher returned
    base = typed[0][1][0]
    deep = [v for who, (v, _) in typed if who == 'deep']
    shallow = [v for who, (v, _) in typed if who == 'shallow']
    assert deep == [base + k for k in range(5)]
    assert shallow == [base + 3, base + 4]  # keep last 2: the oldest three were dropped
    # FIFO over the world: the five samples in publication order, each to its readers in turn
    assert [who for who, _ in typed][:4] == ['deep', 'shallow', 'strict', 'deep']
    raw = [what for _, who, what in LOG if who == 'deep.raw']
    assert raw == [bytes(serialize(Int64(data=base + k))) for k in range(5)]


def test_publishing_bytes_reaches_typed_subscribers_and_qos_must_match() -> None:
    class BytesTalker(Node):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__('bytes_talker')
            self.pub = self.create_publisher(Int64, '/out', QoSProfile(
                depth=10, reliability=ReliabilityPolicy.BEST_EFFORT))
            self.create_timer(0.5, lambda: self.pub.publish(serialize(Int64(data=42))))

    with InprocWorld() as world:
        world.add(BytesTalker)
        world.add(Listener, name='strict')  # reliable: does not match a best-effort writer
        world.add(Listener, name='lenient', parameters={'best_effort': True})
        world.run(1.0)
    got = [(t, who, what) for t, who, what in LOG if not who.endswith('.raw')]
    assert got == [(500_000_000, 'lenient', (42, None)), (1_000_000_000, 'lenient', (42, None))]


def test_use_sim_time_follows_clock_published_in_the_world() -> None:
    from ior_ros.nodes.clock_publisher import ClockPublisher

    with InprocWorld(seed=2) as world:
        sim = world.add(Ticker, name='sim', parameters={'use_sim_time': True, 'period_s': 0.1})
        world.run(1.0)
        assert not [w for _, w, _ in LOG if w == 'sim.ros']  # no /clock yet: sim time stands
        assert sim.get_clock().now().nanoseconds == 0
        world.add(ClockPublisher, parameters={'start_s': 100.0, 'step_s': 0.02,
                                              'wall_period_s': 0.01})
        world.run(2.0)  # 1 s of world time: 100 /clock messages, 2 s of simulated time
        assert sim.get_clock().now().nanoseconds == 102_000_000_000
    ros = [(t, reads) for t, w, reads in LOG if w == 'sim.ros']
    # the first /clock (100.02 s) jumps past the timer's call time (0.1 s): it fires once, as
    # rcl's timer does, and then at every 0.1 s of simulated time, i.e. every 5th /clock message
    assert [t for t, _ in ros] == [100_020_000_000] + [100_000_000_000 + k * 100_000_000
                                                       for k in range(1, 21)]
    # the steady and system clocks of the same node still read the world's time
    assert [reads[1] for _, reads in ros] == [1_010_000_000] + [1_000_000_000 + k * 50_000_000
                                                                for k in range(1, 21)]


def _stream(seed: int) -> list[bytes]:
    with InprocWorld(seed=seed) as world:
        world.add(Talker)
        out = world.tap('/out', Int64, raw=True)
        world.run(2.0)
    return out


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    first, again, other = _stream(9), _stream(9), _stream(10)
    assert len(first) == 100 and first == again
    assert first != other


def test_time_moves_forward_only_and_executors_refuse_world_nodes() -> None:
    from ior_ros.runtime.executor import SingleThreadedExecutor

    with InprocWorld() as world:
        node = world.add(Talker)
        world.run(1.0)
        with pytest.raises(InprocError, match=r'^until_s 0.5: the world is already at 1 s'):
            world.run(0.5)
        executor = SingleThreadedExecutor(context=node.context)
        executor.add_node(node)
        with pytest.raises(InprocError, match='InprocWorld.run'):
            executor.spin_once(timeout_sec=0.1)
        with pytest.raises(RuntimeError, match='cannot sleep'):
            node.get_clock().sleep_for(Duration(seconds=1.0))


class Rearming(Node):  # type: ignore[misc]
    """A timer of 1 s that a sample on ``/poke`` (Int64: delay in ms) re-arms, as ran_emulator
    re-arms its wake-up timer from its relays; on ``/more`` it creates a second timer, on
    ``/stop`` it cancels the first. Logs every call of either timer."""

    def __init__(self) -> None:
        super().__init__('rearming')
        self.timer = self.create_timer(1.0, lambda: self._log('wake'))
        self.create_subscription(Int64, '/poke', self.on_poke, 10)
        self.create_subscription(Int64, '/more', self.on_more, 10)
        self.create_subscription(Int64, '/stop', lambda _msg: self.timer.cancel(), 10)

    def _log(self, who: str) -> None:
        LOG.append((self.get_clock().now().nanoseconds, who, None))

    def on_poke(self, msg: Any) -> None:
        self.timer.timer_period_ns = int(msg.data) * 1_000_000  # from now on
        self.timer.reset()

    def on_more(self, msg: Any) -> None:
        self.create_timer(int(msg.data) * 1e-3, lambda: self._log('more'))


class Poker(Node):  # type: ignore[misc]
    """Publishes the (topic, value) of its script at the script's times [ms]."""

    def __init__(self) -> None:
        super().__init__('poker')
        self.script = [(50, '/poke', 30), (200, '/more', 25), (260, '/stop', 0),
                       (400, '/poke', 100)]
        self.pubs = {topic: self.create_publisher(Int64, topic, 10)
                     for topic in ('/poke', '/more', '/stop')}
        self.create_timer(0.001, self.tick)

    def tick(self) -> None:
        now_ms = self.get_clock().now().nanoseconds // 1_000_000
        for at_ms, topic, value in self.script:
            if at_ms == now_ms:
                self.pubs[topic].publish(Int64(data=value))


def test_a_timer_rearmed_created_or_canceled_in_a_callback_fires_when_it_says() -> None:
    """The timer heap follows what callbacks do to their node's timers: re-armed earlier (it
    fires at the new time, not at its old one), a timer created (it fires from then on),
    canceled (silent until reset), and re-armed between two runs."""
    with InprocWorld(seed=0) as world:
        node = world.add(Rearming)
        world.add(Poker)
        world.run(0.5)
        node.timer.timer_period_ns = 20_000_000  # between runs: from 0.5 s, every 20 ms
        node.timer.reset()
        world.run(0.56)
    ms = [(t // 1_000_000, who) for t, who, _ in LOG]
    wakes = [t for t, who in ms if who == 'wake']
    more = [t for t, who in ms if who == 'more']
    # poked at 50 ms: every 30 ms from then (not at 1 s); at 260 ms it fires before the
    # poker's tick (created first) that cancels it; the poke at 400 ms resets it (every 100 ms:
    # 500 ms, the end of the first run, included); re-armed at 500 ms: every 20 ms
    assert wakes == [80, 110, 140, 170, 200, 230, 260, 500, 520, 540, 560]
    assert more == list(range(225, 561, 25))  # created at 200 ms, every 25 ms
