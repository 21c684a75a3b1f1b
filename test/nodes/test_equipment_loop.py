"""
The equipment in the closed loop (issue 13, "Broker wiring"): the modem_client node against the
package's emulated RM500Q (``ior modem emulate``: a real pseudo-terminal, the real driver), and
launch/sim.launch.yaml with ``equipment:=emulated`` (the emulated gNB's WebSocket remote control
driven by the slice broker, the modem read by the robot's modem_client), all as separate
processes over real DDS on loopback in a domain of their own.
"""

from __future__ import annotations

import json
import math
import os
import signal
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group('dds')

REPO = Path(__file__).resolve().parents[2]
MODEM_EMULATED = r'emulated RM500Q \((\w+), offering'


def _emulator(ros, link: Path, *args: str):  # type: ignore[no-untyped-def]
    proc = ros.ior('modem', 'emulate', '--link', str(link), *args)
    proc.wait_for(MODEM_EMULATED, timeout=30)
    return proc


def _echo(ros):  # type: ignore[no-untyped-def]
    """``ior topic echo`` of the node's topic: what really went over DDS, one field a line."""
    return ros.ior('topic', 'echo', '/link_quality', 'ior_ros/msg/LinkQuality')


def test_modem_client_publishes_the_modem_and_survives_an_unplug(ros, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    link = tmp_path / 'rm500q'
    emulator = _emulator(ros, link)
    node = ros.node('modem_client', '-p', f'port:={link}', '-p', 'poll_period_s:=0.2',
                    '-p', 'frame_id:=robot7')
    echo = _echo(ros)
    # the emulator's serving cell (EmulatedCell defaults, SA): the figures the modem reports
    echo.wait_for(r'^radio_mode: NR5G-SA$', timeout=60, count=3)
    text = echo.text()
    lines = {x.strip() for x in text.splitlines()}
    for line in ('rsrp_dbm: -90.0', 'rsrq_db: -11.0', 'sinr_db: 11.0', 'band: 78', 'pci: 2',
                 'arfcn: 647232', 'registered: true', "allowed_nssai: '01.000001'",
                 'frame_id: robot7', 'rtt_s: .nan', 'packet_loss_ratio: .nan'):
        assert line in lines, (line, text[-1500:])
    assert 'throughput_bps: 2440.0' in text  # the modem's UL + DL counters (2056 + 384 bit/s)

    # unplug: the emulator process ends (SIGTERM removes the link); one warning, no crash
    emulator.interrupt()
    node.wait_for(r'\[WARN\].*modem .* not answering', timeout=30)
    seen = len(echo.matches(r'^radio_mode: '))
    # replug: a new emulator process (LTE this time) behind the same link; the node resumes
    # with the new modem's figures
    _emulator(ros, link, '--mode', 'lte')
    node.wait_for(r'answering again after \d+ failed poll', timeout=30)
    echo.wait_for(r'^radio_mode: LTE$', timeout=30, count=2)
    assert 'rsrp_dbm: -95.0' in {x.strip() for x in echo.text().splitlines()}
    assert len(echo.matches(r'^radio_mode: ')) > seen
    assert len(node.matches(r'\[WARN\]')) == 1  # rate-limited: one warning for the outage
    assert node.proc.poll() is None, node.text()
    assert node.interrupt() == 0, node.text()
    assert 'Traceback' not in node.text(), node.text()


def test_refused_slice_is_one_error_and_the_node_keeps_publishing(ros, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    link = tmp_path / 'rm500q'
    _emulator(ros, link, '--offer', '01.000001')
    node = ros.node('modem_client', '-p', f'port:={link}', '-p', 'poll_period_s:=0.2',
                    # quoted: a bare 02.000001 on the command line is a YAML double
                    '-p', "nssai:='02.000001'", '-p', 'attach_timeout_s:=5.0')
    echo = _echo(ros)
    node.wait_for(r'\[ERROR\].*slice selection 02\.000001 refused \(5GMM cause 62\)', timeout=60)
    echo.wait_for(r'^registered: false$', timeout=30, count=3)  # still polled and published
    assert len(node.matches(r'\[ERROR\]')) == 1  # selected once, not at every poll
    assert node.interrupt() == 0, node.text()


@pytest.mark.parametrize('args, says', [
    ((), r"parameter 'port' of node /modem_client: '': give the modem's AT port"),
    (('-p', 'port:=/dev/ttyUSB2', '-p', 'nssai:=01.000001,zz'),
     r"parameter 'nssai' of node /modem_client: 'ZZ' is not allowed; an S-NSSAI is"),
    (('-p', 'port:=/dev/ttyUSB2', '-p', 'poll_period_s:=0.0'),
     r"parameter 'poll_period_s'.*0\.0.*(greater|0\.05)"),
])
def test_bad_parameters_are_one_line_and_exit_2(ros, args: tuple[str, ...], says: str) -> None:  # type: ignore[no-untyped-def]
    node = ros.node('modem_client', *args)
    assert node.wait(timeout=60) == 2, node.text()
    lines = [x for x in node.text().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith('ior: error: '), lines
    node.wait_for(says, timeout=1)


def test_demo_closes_the_loop_with_the_emulated_equipment(ros, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``ior demo --equipment emulated``: the loop runs as without equipment, the broker's split
    reaches the emulated gNB, and the robot's LinkQuality is in the bag."""
    from rosbags.highlevel import AnyReader

    out = tmp_path / 'demo'
    done = ros.run_ior('demo', '--duration', '8', '--equipment', 'emulated', '--no-twin',
                       '--out', str(out), '--no-progress', timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'nodes up: modem_client, ran_emulator, robot_controller, slice_broker, ' \
        'teleop_operator' in done.stdout
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['equipment'] == 'emulated'
    assert math.isfinite(summary['tracking_rmse_m']) and summary['tracking_rmse_m'] < 0.3
    assert summary['commands_received'] > 100
    assert 'modem_client' in summary['nodes_at_end']
    log = (out / 'launch.log').read_text(errors='replace')
    assert 'slice policies applied: plmn 00101' in log, log[-3000:]
    assert 'process has died' not in log and 'Traceback' not in log, log[-3000:]
    with AnyReader([out / 'bag']) as reader:
        links = [c for c in reader.connections if c.topic == '/robot/link_quality']
        assert links and links[0].msgcount >= 4, [c.topic for c in reader.connections]
        for connection, _t, raw in reader.messages(connections=links):
            msg = reader.deserialize(raw, connection.msgtype)
            assert (msg.radio_mode, msg.rsrp_dbm, msg.sinr_db, msg.registered) == \
                ('NR5G-SA', -90.0, 11.0, True)
    # the emulators went with the launch: the link is gone
    assert not os.path.lexists(out / 'rm500q')


@pytest.mark.ros2
@pytest.mark.slow
def test_real_ros2_launch_runs_sim_with_the_emulated_equipment(ros, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The same sim.launch.yaml equipment:=emulated under the real ``ros2 launch`` (the
    package built by colcon; nodes on rclpy): both emulators start, the broker reaches the
    gNB, and ``ros2 topic echo`` receives the robot's LinkQuality."""
    import sys

    env = ros.ros_env
    env = dict(env, PATH=f'{Path(sys.executable).parent}{os.pathsep}{env["PATH"]}')
    port = _free_port()
    link = tmp_path / 'rm500q'
    from rt_helpers import Proc

    launch = Proc(['ros2', 'launch', 'ior_ros', 'sim.launch.yaml', 'equipment:=emulated',
                   'twin:=false', f'gnb_port:={port}', f'modem_link:={link}'], env,
                  cwd=tmp_path, group=True)
    ros.procs.append(launch)
    launch.wait_for(r'gNB ws://127\.0\.0\.1:\d+: slice policies applied', timeout=120)
    echo = Proc(['ros2', 'topic', 'echo', '--once', '/robot/link_quality',
                 'ior_ros/msg/LinkQuality'], env, cwd=tmp_path, group=True)
    ros.procs.append(echo)
    assert echo.wait(timeout=60) == 0, echo.text() + launch.text()[-3000:]
    assert 'radio_mode: NR5G-SA' in echo.text(), echo.text()
    text = launch.text()
    assert 'process has died' not in text and 'Traceback' not in text, text[-3000:]
    launch._signal(signal.SIGINT)
    launch.wait(timeout=60)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])
