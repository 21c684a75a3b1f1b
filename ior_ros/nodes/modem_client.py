"""
``modem_client``: the robot's 5G modem (a Quectel RM500Q on its AT port, or the emulated one of
``ior modem emulate``) as ior_ros/LinkQuality on ``link_quality`` (issue 13, "Broker wiring").

* **Polling**: every ``poll_period_s`` (wall clock: the modem measures in real time, whatever
  clock the robot follows) a thread of its own asks the modem for its serving cell
  (``AT+QENG="servingcell"``), its 5GS registration (``AT+C5GREG?``, with the allowed NSSAI) and
  its rate counters (``AT+QNWCFG="up/down"``) through :class:`~ior_ros.clients.quectel.
  QuectelRM500Q`. The executor never waits on the serial port: the thread publishes itself, and
  the node has no callback that touches the modem.
* **Message**: one LinkQuality per successful poll, ``header.stamp`` the node clock (sim time
  under ``use_sim_time``) when the answers were in, ``frame_id`` the ``frame_id`` parameter (the
  robot's name). The radio fields come from the primary cell (the NR cell, the NR leg in EN-DC,
  else LTE); what the modem leaves out is NaN / -1 / '' (msg/LinkQuality.msg). The modem measures
  no delay or loss: ``rtt_s``, ``one_way_delay_s``, ``jitter_s`` and ``packet_loss_ratio`` are
  NaN; ``throughput_bps`` is the modem's UL + DL counter (NaN, and no longer asked, on a
  firmware that answers ``ERROR`` to it).
* **QoS**: reliable, keep last 10. At one message a second it costs nothing, a reliable writer
  matches every reader (a best-effort writer would match no reliable reader, the bag recorder's
  included), and a lost sample would leave a gap of two periods in what the broker or a log sees.
* **Faults**: a modem that is absent at start, unplugged, silent or answering garbage is one
  warning (then at most one per :data:`WARN_PERIOD_S`) and nothing published for that poll;
  every period tries again (the driver reopens the port when its path comes back, e.g. a
  restarted ``ior modem emulate --link PATH``), and the first good poll after a failure is one
  info line. No exception of the thread reaches the node: nothing the modem says can crash it.
* **Slices** (``nssai``): '' leaves the modem's NSSAI alone; otherwise a comma list of
  S-NSSAIs in the AT form (``01.000001,02.000001``: SST as two hex digits, ``.SD`` as six;
  ran-equipment.md §2.4; on a command line quote a single one, ``-p "nssai:='01.000001'"``,
  since a bare ``01.000001`` is a YAML number), checked at start (a bad one is one line, exit 2)
  and selected once, before the first poll, with
  :meth:`~ior_ros.clients.quectel.QuectelRM500Q.select_slices`
  (write the default configured NSSAI where it differs, re-attach, check the allowed NSSAI). A
  refusal (e.g. 5GMM cause 62, no network slices available) is one error line with the cause;
  the node keeps publishing. A modem that cannot be reached for the selection is asked again at
  the next period. The re-attach takes the modem off the network for a moment (up to
  ``attach_timeout_s``) and no LinkQuality is published meanwhile.

Parameters (all read-only, descriptors with ranges): ``port`` (the AT port, e.g. /dev/ttyUSB2,
or the path ``ior modem emulate`` printed; required), ``poll_period_s``, ``timeout_s`` (answer
time of one query), ``attach_timeout_s``, ``frame_id``, ``nssai``. Defaults:
config/nodes/modem_client.yaml. Uses only ``ior_ros.runtime`` names.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from ior_ros.core.config import FrozenModel
from ior_ros.core.errors import ConfigError
from ior_ros.nodes._config import build_config
from ior_ros.nodes._descriptors import describe
from ior_ros.nodes._main import spin_node
from ior_ros.runtime import Node, QoSProfile, ReliabilityPolicy, get_message

__all__ = ['ModemClient', 'ModemClientConfig', 'LinkReading', 'ModemPoller', 'read_link',
           'declare_config', 'MODEM_RANGES', 'WARN_PERIOD_S', 'main']

LinkQuality = get_message('ior_ros/msg/LinkQuality')

WARN_PERIOD_S = 10.0
"""At most one warning per this many seconds about a modem that does not answer [s]."""

#: parameter ranges (inclusive ends), shared with the descriptors
MODEM_RANGES: dict[str, tuple[float, float]] = {
    'poll_period_s': (0.05, 3600.0),
    'timeout_s': (0.05, 60.0),
    'attach_timeout_s': (1.0, 600.0),
}


def _in(name: str) -> Any:
    low, high = MODEM_RANGES[name]
    return Field(ge=low, le=high)


class ModemClientConfig(FrozenModel):
    """The node's parameters (module docstring)."""

    port: str
    """AT port of the modem, or the emulator's path."""
    poll_period_s: Annotated[float, _in('poll_period_s')] = 1.0
    """Time between two polls (wall clock) [s]."""
    timeout_s: Annotated[float, _in('timeout_s')] = 0.5
    """Answer time of one quick query [s] (the driver gives slow commands their own)."""
    attach_timeout_s: Annotated[float, _in('attach_timeout_s')] = 40.0
    """How long the slice selection waits for the registration outcome [s]."""
    frame_id: str = 'robot'
    """``header.frame_id`` of every message: the robot's name."""
    nssai: tuple[str, ...] = ()
    """S-NSSAIs (AT form) to select once at start; empty: leave the modem's."""


def declare_config(node: Any) -> ModemClientConfig:
    """Declare the parameters (read-only, with descriptors) and build the configuration."""
    from ior_ros.clients.errors import EquipmentValidationError
    from ior_ros.clients.quectel import validate_at_snssai

    d = ModemClientConfig(port='-')
    values: dict[str, Any] = {
        'port': node.declare_parameter('port', '', describe(
            'AT port of the modem (e.g. /dev/ttyUSB2), or the path `ior modem emulate` printed '
            '(its --link); required', read_only=True,
            additional_constraints='a device path, not empty')).value,
        'poll_period_s': node.declare_parameter('poll_period_s', d.poll_period_s, describe(
            'time between two polls of the modem (wall clock) [s]', read_only=True,
            float_range=MODEM_RANGES['poll_period_s'])).value,
        'timeout_s': node.declare_parameter('timeout_s', d.timeout_s, describe(
            'answer time of one quick AT query [s]', read_only=True,
            float_range=MODEM_RANGES['timeout_s'])).value,
        'attach_timeout_s': node.declare_parameter(
            'attach_timeout_s', d.attach_timeout_s, describe(
                'how long the slice selection waits for the registration outcome [s]',
                read_only=True, float_range=MODEM_RANGES['attach_timeout_s'])).value,
        'frame_id': node.declare_parameter('frame_id', d.frame_id, describe(
            'header.frame_id of the LinkQuality messages: the robot name',
            read_only=True)).value,
        'nssai': node.declare_parameter('nssai', '', describe(
            "S-NSSAIs to register with, selected once at start; '' leaves the modem's NSSAI",
            read_only=True, additional_constraints="'' or a comma list of AT S-NSSAIs "
            '(01, 01.000001, ...)')).value,
    }
    name = node.get_fully_qualified_name()
    port = values['port']
    if not isinstance(port, str) or not port.strip():
        raise ConfigError(f"parameter 'port' of node {name}: {port!r}: give the modem's AT port "
                          '(e.g. /dev/ttyUSB2) or the path `ior modem emulate` printed')
    text = values['nssai']
    if not isinstance(text, str):
        raise ConfigError(f"parameter 'nssai' of node {name}: {text!r}: allowed '' or a comma "
                          'list of AT S-NSSAIs such as 01.000001,02.000001')
    try:
        values['nssai'] = tuple(validate_at_snssai(item.strip().upper(), 'nssai')
                                for item in text.split(',') if item.strip())
    except EquipmentValidationError as exc:
        raise ConfigError(f"parameter 'nssai' of node {name}: "
                          f"{str(exc).removeprefix('nssai: ')}") from None
    config: ModemClientConfig = build_config(ModemClientConfig, name, values)
    return config


@dataclass(frozen=True)
class LinkReading:
    """What one poll read from the modem (``None``: not reported)."""

    radio_mode: str
    rsrp_dbm: float | None
    rsrq_db: float | None
    sinr_db: float | None
    band: int | None
    pci: int | None
    arfcn: int | None
    registered: bool
    allowed_nssai: tuple[str, ...]
    throughput_bps: float | None


def read_link(modem: Any, with_throughput: bool = True) -> LinkReading:
    """Serving cell, registration and (``with_throughput``) rate counters of ``modem``."""
    cell = modem.serving_cell()
    registration = modem.registration_5gs()
    throughput = None
    if with_throughput:
        counters = modem.throughput()
        throughput = float(counters.ul_bps + counters.dl_bps)
    primary = cell.primary
    return LinkReading(
        radio_mode=cell.mode.value if cell.mode is not None else '',
        rsrp_dbm=primary.rsrp_dbm if primary else None,
        rsrq_db=primary.rsrq_db if primary else None,
        sinr_db=primary.sinr_db if primary else None,
        band=primary.band if primary else None, pci=primary.pci if primary else None,
        arfcn=primary.arfcn if primary else None, registered=registration.registered,
        allowed_nssai=registration.allowed_nssai, throughput_bps=throughput)


def _number(value: float | None) -> float:
    return float(value) if value is not None and math.isfinite(value) else math.nan


def _index(value: int | None) -> int:
    return int(value) if value is not None and -2**31 < value < 2**31 else -1


def to_message(reading: LinkReading, stamp: Any, frame_id: str) -> Any:
    """The LinkQuality of one reading (unknown: NaN / -1 / '')."""
    msg = LinkQuality(
        rtt_s=math.nan, one_way_delay_s=math.nan, jitter_s=math.nan,
        packet_loss_ratio=math.nan, throughput_bps=_number(reading.throughput_bps),
        radio_mode=reading.radio_mode, rsrp_dbm=_number(reading.rsrp_dbm),
        rsrq_db=_number(reading.rsrq_db), sinr_db=_number(reading.sinr_db),
        band=_index(reading.band), pci=_index(reading.pci), arfcn=_index(reading.arfcn),
        registered=bool(reading.registered), allowed_nssai=':'.join(reading.allowed_nssai))
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg


class ModemPoller:
    """
    Polls the modem every period on a thread of its own and hands each reading to ``publish``
    (module docstring: faults, slices). :meth:`close` stops it.
    """

    def __init__(self, config: ModemClientConfig, logger: Any,
                 publish: Callable[[LinkReading], None]) -> None:
        self.config = config
        self.logger = logger
        self.publish = publish
        self.polls = 0
        self.failures = 0
        """Polls failed in a row (0 while the modem answers)."""
        self._modem: Any = None
        self._slices_pending = bool(config.nssai)
        self._with_throughput = True
        self._warned_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='modem-poll', daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop polling and close the port."""
        self._stop.set()
        self._thread.join(timeout=5.0)
        modem, self._modem = self._modem, None
        if modem is not None:
            try:
                modem.close()
            except Exception:  # noqa: BLE001 - a vanished device may fail to close
                pass

    def _run(self) -> None:
        period = self.config.poll_period_s
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self._poll()
            except Exception as exc:  # noqa: BLE001 - nothing read from the modem ends the node
                self._failed(exc)
            next_at += period
            now = time.monotonic()
            if next_at < now:  # a poll slower than the period: no burst to catch up
                next_at = now
            self._stop.wait(next_at - now)

    def _open(self) -> Any:
        from ior_ros.clients.quectel import QuectelRM500Q

        if self._modem is None:
            cfg = self.config
            reconnect_s = min(max(cfg.poll_period_s / 2.0, 0.05), 5.0)
            self._modem = QuectelRM500Q(cfg.port, timeout_s=cfg.timeout_s,
                                        reconnect_timeout_s=reconnect_s).open()
        return self._modem

    def _poll(self) -> None:
        from ior_ros.clients.at import AtCommandError

        modem = self._open()
        if self._slices_pending:
            self._select(modem)
        try:
            reading = read_link(modem, self._with_throughput)
        except AtCommandError as exc:
            if not self._with_throughput or 'QNWCFG' not in str(exc).upper():
                raise
            self._with_throughput = False  # a firmware without the counters: NaN from now on
            self.logger.info(f'modem {self.config.port}: no rate counters ({exc}); '
                             'throughput_bps stays NaN')
            reading = read_link(modem, False)
        self.polls += 1
        if self.failures:
            self.logger.info(f'modem {self.config.port}: answering again after '
                             f'{self.failures} failed poll(s)')
            self.failures = 0
            self._warned_at = None
        if not self._stop.is_set():
            self.publish(reading)

    def _select(self, modem: Any) -> None:
        from ior_ros.clients.quectel import SliceRejected

        wanted = ':'.join(self.config.nssai)
        try:
            registration = modem.select_slices(self.config.nssai,
                                               timeout_s=self.config.attach_timeout_s)
        except SliceRejected as exc:
            cause = 'none reported' if exc.cause is None else exc.cause
            self.logger.error(f'slice selection {wanted} refused (5GMM cause {cause}): {exc}')
        else:
            self.logger.info(f'modem {self.config.port}: registered with slices '
                             f'{":".join(registration.allowed_nssai)}')
        self._slices_pending = False

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        now = time.monotonic()
        if self._warned_at is None or now - self._warned_at >= WARN_PERIOD_S:
            self._warned_at = now
            text = ' '.join(str(exc).split()) or type(exc).__name__
            self.logger.warning(f'modem {self.config.port} not answering ({self.failures} '
                                f'failed poll(s); next try every {self.config.poll_period_s:g} '
                                f's): {text}')


class ModemClient(Node):  # type: ignore[misc]
    """The modem as LinkQuality (module docstring)."""

    def __init__(self) -> None:
        super().__init__('modem_client')
        self.config = cfg = declare_config(self)
        self.link_pub = self.create_publisher(LinkQuality, 'link_quality', QoSProfile(
            depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.get_logger().info(f'modem {cfg.port}: polling every {cfg.poll_period_s:g} s'
                               + (f', selecting slices {":".join(cfg.nssai)}' if cfg.nssai
                                  else ''))
        self.poller: ModemPoller | None = ModemPoller(cfg, self.get_logger(), self._publish)

    def _publish(self, reading: LinkReading) -> None:
        """Runs on the poll thread: publishers are safe to use from any thread."""
        stamp = self.get_clock().now().to_msg()
        self.link_pub.publish(to_message(reading, stamp, self.config.frame_id))

    def destroy_node(self) -> Any:
        if self.poller is not None:
            self.poller.close()
            self.poller = None
        return super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return spin_node(ModemClient, args)


if __name__ == '__main__':
    sys.exit(main())
