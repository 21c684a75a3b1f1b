"""
``slice_broker``: admits the slice templates of ``slices_dir`` and, every ``period_s``, splits the
carrier's PRBs between the admitted slices with the allocator ``policy`` chosen
(:mod:`ior_ros.core.slicing.broker`: admission, PRB bounds, the five allocators, the closed-loop
URLLC weight).

* **In**: ior_ros/RanMetrics on ``ran_metrics`` (per slice: rate, backlog, delay, SINR; UE slice
  ids other than SLICE_EMBB/SLICE_URLLC, NaN or negative values are ignored), ior_ros/RobotState
  on ``state`` (dexterity index, tracking error) and ior_ros/DelayMeasurement on ``delay`` (the
  commands' one-way delay, the largest since the last decision counts).
* **Out**, every period: ior_ros/SlicePolicy on ``slice_policy`` (reliable, depth 10; both cell
  slices, a rejected or absent slice with 0 PRBs), ior_ros/SliceStates on ``slice_states`` and
  visualization_msgs/MarkerArray on ``slice_markers`` (per template a bar in frame ``map`` whose
  height is its PRB share, 1 m for the whole carrier, and a text label). Until the first metrics
  arrive the allocation is the static one (the template ratios). A log line whenever a slice's
  PRBs move by at least :data:`LOG_CHANGE_FRACTION` of the carrier (2 PRBs at least).

Parameters (read-only, with ranges; ``ros2 param describe``): ``policy`` (pf, dpp, drl,
puncturing, static), ``period_s`` (on the node's clock: ``use_sim_time`` works), ``slices_dir``
(empty: the package's config/slices), ``total_prbs`` (50: the ran_emulator's), ``policy_path``
(the SlicingPolicy used by ``drl``; empty: the shipped config/policies/seed003_slicing),
``di_gain`` (the closed-loop gain; 0 switches the feedback off). A bad value, template or policy
stops the node with one line (exit code 2).

**Equipment** (issue 13; :mod:`ior_ros.nodes._equipment_links`): with ``gnb_url``
(``ws://host:port``, an srsRAN gNB's remote control or ``ior gnb emulate``) the split also goes to
the gNB as per-slice PRB quotas (PLMN ``gnb_plmn``); with ``tc_dev`` (an interface, in namespace
``tc_netns`` if given) to HTB slices on it, each slice's rate its share of ``tc_capacity_bps``
(0: the capacity of ``slices_dir/equipment/bindings.yaml``), packets classified by ``tc_by``
(``dscp`` or ``addr``, from the bindings; needs root or CAP_NET_ADMIN). Each link applies at most
one configuration per ``equipment_period_s``, when a slice moved by ``equipment_change_percent``,
from a thread of its own: equipment that is down or refuses is logged and retried, never a
reason for the broker to stop. Empty (default): the ran_emulator takes the split from
``slice_policy`` alone.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ior_ros.clients.errors import EquipmentError
from ior_ros.core.config import FrozenModel
from ior_ros.core.errors import ConfigError
from ior_ros.core.slicing.broker import (
    Allocation,
    AllocatorName,
    Broker,
    BrokerConfig,
    BrokerMetrics,
    SliceMetrics,
)
from ior_ros.core.slicing.policy import SlicingPolicy
from ior_ros.core.slicing.slice_templates import SliceKind, load_templates
from ior_ros.nodes._config import build_config
from ior_ros.nodes._descriptors import describe
from ior_ros.nodes._equipment_links import EquipmentLink, GnbLink, TcLink
from ior_ros.nodes._main import spin_node
from ior_ros.runtime import Node, QoSProfile, ReliabilityPolicy, get_message
from ior_ros.runtime.packages import find_package_share

RanMetrics = get_message('ior_ros/msg/RanMetrics')
RobotState = get_message('ior_ros/msg/RobotState')
DelayMeasurement = get_message('ior_ros/msg/DelayMeasurement')
SlicePolicy = get_message('ior_ros/msg/SlicePolicy')
SliceStateMsg = get_message('ior_ros/msg/SliceState')
SliceStates = get_message('ior_ros/msg/SliceStates')
Marker = get_message('visualization_msgs/msg/Marker')
MarkerArray = get_message('visualization_msgs/msg/MarkerArray')

#: a slice's PRBs must move by this share of the carrier (and 2 PRBs) for a log line
LOG_CHANGE_FRACTION = 0.05
#: height of a slice's bar when it holds the whole carrier [m]
BAR_HEIGHT_M = 1.0
#: bar colours (r, g, b): URLLC orange, eMBB blue, a rejected slice grey
_COLOURS = {SliceKind.URLLC: (1.0, 0.5, 0.0), SliceKind.EMBB: (0.1, 0.4, 1.0)}
_REJECTED_COLOUR = (0.5, 0.5, 0.5)


class SliceBrokerConfig(FrozenModel):
    """The node's parameters (module docstring)."""

    policy: AllocatorName = AllocatorName.DPP
    period_s: float = Field(0.1, ge=1e-3, le=60.0)
    slices_dir: str = ''
    total_prbs: int = Field(50, ge=1, le=275)
    policy_path: str = ''
    di_gain: float = Field(1.0, ge=0.0, le=100.0)
    gnb_url: str = ''
    gnb_plmn: str = '00101'
    tc_dev: str = ''
    tc_netns: str = ''
    tc_by: Literal['dscp', 'addr'] = 'dscp'
    tc_capacity_bps: float = Field(0.0, ge=0.0, le=1e11)
    equipment_period_s: float = Field(1.0, ge=0.05, le=3600.0)
    equipment_change_percent: int = Field(2, ge=1, le=100)

    def broker_config(self) -> BrokerConfig:
        """The core broker's configuration (its other settings keep their defaults)."""
        return BrokerConfig(total_prbs=self.total_prbs, policy=self.policy,
                            period_s=self.period_s, di_gain=self.di_gain)


def package_config_dir() -> Path:
    """``config/`` of the ior_ros package: the source tree, or the installed share folder."""
    return find_package_share('ior_ros') / 'config'


def declare_config(node: Any) -> SliceBrokerConfig:
    """Declare the parameters (read-only, with descriptors) and build the configuration."""
    d = SliceBrokerConfig()
    names = ', '.join(a.value for a in AllocatorName)
    values: dict[str, Any] = {
        'policy': node.declare_parameter('policy', d.policy.value, describe(
            'allocator of the PRBs: pf (proportional fair), dpp (drift-plus-penalty with a '
            'virtual queue on URLLC delay violations), drl (the deployable slicing policy), '
            'puncturing (URLLC first), static (template ratios)', read_only=True,
            additional_constraints=f'one of {names}')).value,
        'period_s': node.declare_parameter('period_s', d.period_s, describe(
            'time between two allocations on the node clock [s]', read_only=True,
            float_range=(1e-3, 60.0))).value,
        'slices_dir': node.declare_parameter('slices_dir', d.slices_dir, describe(
            'folder of slice templates (*.yaml); empty: the package config/slices',
            read_only=True)).value,
        'total_prbs': node.declare_parameter('total_prbs', d.total_prbs, describe(
            'PRBs of the carrier (50: the ran_emulator default; 275: the largest NR carrier)',
            read_only=True, int_range=(1, 275))).value,
        'policy_path': node.declare_parameter('policy_path', d.policy_path, describe(
            'slicing policy (policy.npz or its folder) used by policy drl; empty: the shipped '
            'config/policies/seed003_slicing', read_only=True)).value,
        'di_gain': node.declare_parameter('di_gain', d.di_gain, describe(
            'gain of the URLLC weight on a falling dexterity index or a growing tracking error '
            '(docs/models/slicing.md section 10); 0: feedback off', read_only=True,
            float_range=(0.0, 100.0))).value,
        'gnb_url': node.declare_parameter('gnb_url', d.gnb_url, describe(
            'remote control of an srsRAN gNB (ws://host:port; `ior gnb emulate` for none): the '
            'split is sent there as PRB quotas; empty: no gNB', read_only=True,
            additional_constraints='empty, or ws://... or wss://...')).value,
        'gnb_plmn': node.declare_parameter('gnb_plmn', d.gnb_plmn, describe(
            'PLMN of the gNB policies (MCC + MNC, 5 or 6 digits)', read_only=True,
            additional_constraints='5 or 6 digits')).value,
        'tc_dev': node.declare_parameter('tc_dev', d.tc_dev, describe(
            'interface whose egress carries the slices as HTB classes (Linux tc; root or '
            'CAP_NET_ADMIN); empty: none', read_only=True)).value,
        'tc_netns': node.declare_parameter('tc_netns', d.tc_netns, describe(
            'network namespace of tc_dev; empty: this one', read_only=True)).value,
        'tc_by': node.declare_parameter('tc_by', d.tc_by, describe(
            'classify packets into slices by DSCP or by robot address (equipment/bindings.yaml '
            'of slices_dir)', read_only=True, additional_constraints='dscp or addr')).value,
        'tc_capacity_bps': node.declare_parameter('tc_capacity_bps', d.tc_capacity_bps, describe(
            "capacity of tc_dev's link [bit/s] that the split shares; 0: the bindings' "
            'capacity_bps', read_only=True, float_range=(0.0, 1e11))).value,
        'equipment_period_s': node.declare_parameter(
            'equipment_period_s', d.equipment_period_s, describe(
                'at most one reconfiguration of the gNB or of tc per this time [s] (wall '
                'clock)', read_only=True, float_range=(0.05, 3600.0))).value,
        'equipment_change_percent': node.declare_parameter(
            'equipment_change_percent', d.equipment_change_percent, describe(
                'a slice must move by this many percent of the carrier (or link) to be '
                'reconfigured', read_only=True, int_range=(1, 100))).value,
    }
    name = node.get_fully_qualified_name()
    url = values['gnb_url']
    if not isinstance(url, str) or (url and not re.fullmatch(r'wss?://[^\s/]+(/\S*)?', url)):
        raise ConfigError(f"parameter 'gnb_url' of node {name}: {url!r} is not a WebSocket URL: "
                          "give ws://host:port (or wss://), or '' for no gNB")
    plmn = values['gnb_plmn']
    if not isinstance(plmn, str) or not re.fullmatch(r'[0-9]{5,6}', plmn):
        raise ConfigError(f"parameter 'gnb_plmn' of node {name}: {plmn!r}: allowed MCC + MNC "
                          "as 5 or 6 digits, e.g. '00101'")
    if values['policy'] not in {a.value for a in AllocatorName}:
        raise ConfigError(f"parameter 'policy' of node {name}: {values['policy']!r} is not one "
                          f'of {names}')
    config: SliceBrokerConfig = build_config(SliceBrokerConfig, name, values)
    return config


def _tc_base(cfg: SliceBrokerConfig, slices_dir: str, name: str) -> Any:
    """The HTB plan of the slice set at its guaranteed rates (what TcLink raises to the split);
    a set or binding tc cannot use stops the node with one line naming the parameter."""
    from ior_ros.clients.tc import tc_plan
    from ior_ros.core.slicing.equipment_plan import load_slice_set

    try:
        plan = load_slice_set([slices_dir], capacity_bps=cfg.tc_capacity_bps or None)
        return tc_plan(plan, by=cfg.tc_by)
    except (ConfigError, EquipmentError) as exc:
        raise ConfigError(f"parameter 'tc_dev' of node {name}: {exc}") from None


def _float(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


class SliceBroker(Node):  # type: ignore[misc]
    """Admission and one PRB split per period (module docstring)."""

    def __init__(self) -> None:
        super().__init__('slice_broker')
        self.config = cfg = declare_config(self)
        name = self.get_fully_qualified_name()
        slices_dir = cfg.slices_dir or str(package_config_dir() / 'slices')
        try:
            templates = load_templates(slices_dir)
        except ConfigError as exc:
            raise ConfigError(f"parameter 'slices_dir' of node {name}: {exc}") from None
        policy = None
        if cfg.policy is AllocatorName.DRL:
            path = cfg.policy_path or str(package_config_dir() / 'policies' / 'seed003_slicing')
            try:
                policy = SlicingPolicy.load(path)
            except ConfigError as exc:
                raise ConfigError(f"parameter 'policy_path' of node {name}: {exc}") from None
        self.broker = Broker(templates, cfg.broker_config(), policy)
        self.policy_pub = self.create_publisher(SlicePolicy, 'slice_policy', QoSProfile(
            depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.states_pub = self.create_publisher(SliceStates, 'slice_states', 10)
        self.markers_pub = self.create_publisher(MarkerArray, 'slice_markers', 10)
        self.create_subscription(RanMetrics, 'ran_metrics', self.on_metrics, 10)
        self.create_subscription(RobotState, 'state', self.on_state, 10)
        self.create_subscription(DelayMeasurement, 'delay', self.on_delay, 100)
        self._metrics: BrokerMetrics | None = None
        self._dexterity: float | None = None
        self._error: float | None = None
        self._command_delay: float | None = None
        self._logged: Allocation | None = None
        self._threshold = max(2, math.ceil(LOG_CHANGE_FRACTION * cfg.total_prbs))
        self.timer = self.create_timer(cfg.period_s, self.tick)
        self.links: list[EquipmentLink] = []
        self.gnb: GnbLink | None = None
        self.tc: TcLink | None = None
        every, step = cfg.equipment_period_s, cfg.equipment_change_percent
        if cfg.gnb_url:
            admitted = {a.template.name: a.template for a in self.broker.admissions
                        if a.admitted}
            self.gnb = GnbLink(cfg.gnb_url, cfg.gnb_plmn, admitted, self.get_logger(),
                               period_s=every, change_percent=step)
            self.links.append(self.gnb)
        if cfg.tc_dev:
            base = _tc_base(cfg, slices_dir, name)
            try:
                self.tc = TcLink(cfg.tc_dev, cfg.tc_netns or None, base, self.get_logger(),
                                 period_s=every, change_percent=step)
            except EquipmentError as exc:
                raise ConfigError(f"parameter 'tc_dev' of node {name}: {exc}") from None
            self.links.append(self.tc)
        parts = []
        for a in self.broker.admissions:
            t = a.template
            text = f'{t.name} ({t.kind.value}, S-NSSAI {t.snssai.text()}, 5QI {t.five_qi})'
            parts.append(text + (' admitted' if a.admitted else f' rejected: {a.reason}'))
        self.get_logger().info(f'slice_broker: policy {cfg.policy.value}, period '
                               f'{cfg.period_s:g} s, {cfg.total_prbs} PRBs, di_gain '
                               f'{cfg.di_gain:g}; ' + '; '.join(parts))

    # ------------------------------------------------------------------------------------------
    # inputs: keep the newest; nothing a peer sends may raise

    def on_metrics(self, msg: Any) -> None:
        slices: dict[int, SliceMetrics] = {}
        for ue in getattr(msg, 'ues', ()):
            try:
                slice_id = int(ue.slice_id)
            except (TypeError, ValueError):
                continue
            slices[slice_id] = SliceMetrics(_float(ue.rate_bps), _float(ue.queue_bits),
                                            _float(ue.delay_s), _float(ue.sinr_db))
        self._metrics = BrokerMetrics(slices=slices, interval_s=_float(msg.interval_s))

    def on_state(self, msg: Any) -> None:
        self._dexterity = _float(msg.dexterity_index)
        self._error = _float(msg.tracking_error_m)

    def on_delay(self, msg: Any) -> None:
        d = _float(msg.one_way_delay_s)
        if d is not None and d >= 0.0:
            self._command_delay = d if self._command_delay is None else max(
                self._command_delay, d)

    # ------------------------------------------------------------------------------------------

    def tick(self) -> None:
        base = self._metrics
        seen_robot = self._dexterity is not None or self._error is not None \
            or self._command_delay is not None
        metrics = None
        if base is not None or seen_robot:
            metrics = BrokerMetrics(
                slices=base.slices if base is not None else {},
                interval_s=base.interval_s if base is not None else None,
                dexterity_index=self._dexterity, tracking_error_m=self._error,
                command_delay_s=self._command_delay)
        self._metrics = None
        self._command_delay = None
        try:
            allocation: Allocation | None = self.broker.step(metrics)
        except Exception as exc:  # a bug must not take the slicing down: keep the last one
            self.get_logger().error(f'allocation failed, keeping the previous one: {exc!r}')
            allocation = self.broker.last
        if allocation is None:
            return
        stamp = self.get_clock().now().to_msg()
        for link in self.links:
            link.offer(allocation)
        self.publish_policy(allocation, stamp)
        self.publish_states(allocation, stamp)
        if allocation.differs(self._logged, self._threshold):
            self._logged = allocation
            shares = ', '.join(f'{n} {p} PRBs' for n, p in allocation.prbs.items())
            self.get_logger().info(
                f'slice allocation ({allocation.policy}): {shares} of {allocation.total_prbs}; '
                f'URLLC weight {allocation.urllc_weight:.2f}, virtual queue '
                f'{allocation.virtual_queue:.2f}')

    def publish_policy(self, allocation: Allocation, stamp: Any) -> None:
        msg = SlicePolicy(period_s=self.config.period_s, total_prbs=allocation.total_prbs,
                          slice_id=list(allocation.slice_prbs),
                          slice_prbs=list(allocation.slice_prbs.values()))
        msg.header.stamp = stamp
        self.policy_pub.publish(msg)

    def publish_states(self, allocation: Allocation, stamp: Any) -> None:
        statuses = self.broker.statuses()
        states = []
        markers = []
        total = max(allocation.total_prbs, 1)
        for index, s in enumerate(statuses):
            t = s.template
            share = s.prbs / total
            states.append(SliceStateMsg(
                name=t.name, slice_id=t.kind.slice_id, sst=t.snssai.sst, sd=t.snssai.sd or '',
                five_qi=t.five_qi, state=s.state.value, reason=s.reason, prbs=s.prbs,
                prb_share=share, target_rate_bps=s.target_rate_bps,
                measured_rate_bps=s.measured_rate_bps, measured_delay_s=s.measured_delay_s))
            colour = _REJECTED_COLOUR if s.state.value == 'rejected' else _COLOURS[t.kind]
            height = max(share * BAR_HEIGHT_M, 1e-3)  # a zero-height cube is invalid in RViz
            bar = Marker(ns='slice_shares', id=2 * index, type=Marker.CUBE, action=Marker.ADD)
            bar.pose.position.x = 0.6 * index
            bar.pose.position.z = height / 2.0
            bar.pose.orientation.w = 1.0
            bar.scale.x, bar.scale.y, bar.scale.z = 0.4, 0.4, height
            bar.color.r, bar.color.g, bar.color.b = colour
            bar.color.a = 0.9
            label = Marker(ns='slice_labels', id=2 * index + 1, type=Marker.TEXT_VIEW_FACING,
                           action=Marker.ADD, text=f'{t.name}: {s.prbs} PRBs ({s.state.value})')
            label.pose.position.x = 0.6 * index
            label.pose.position.z = height + 0.15
            label.pose.orientation.w = 1.0
            label.scale.z = 0.1
            label.color.r = label.color.g = label.color.b = label.color.a = 1.0
            for m in (bar, label):
                m.header.stamp = stamp
                m.header.frame_id = 'map'
                markers.append(m)
        msg = SliceStates(policy=allocation.policy, total_prbs=allocation.total_prbs,
                          urllc_weight=allocation.urllc_weight,
                          virtual_queue=allocation.virtual_queue, slices=states)
        msg.header.stamp = stamp
        self.states_pub.publish(msg)
        self.markers_pub.publish(MarkerArray(markers=markers))


    def destroy_node(self) -> Any:
        links, self.links = self.links, []
        for link in links:
            link.close()
        return super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return spin_node(SliceBroker, args)


if __name__ == '__main__':
    sys.exit(main())
