"""
config/ior.rviz in the real rviz2 (Jazzy, rviz 14) under Xvfb while the demo loop runs.

RViz has no remote API for a display's status, so the test reads it where RViz shows it: the
Displays panel. rviz_common 14 draws the name of an *enabled* display in one of three exact
colours (``Display::getViewData``, ForegroundRole; ``StatusProperty::status_colors_``):
blue (40, 120, 197) when its status is Ok, (192, 128, 0) for Warn, (192, 32, 32) for Error; the
"Global Status" row is drawn in the same Warn/Error colours when the fixed frame or the TF tree
is wrong. The test

1. runs ``ior launch launch/sim.launch.yaml`` (all five nodes: operator, twin, broker, emulator
   owning /clock, controller) in the test's ROS domain, and rviz2 from the real ROS 2 in the
   same domain (same ROS_DOMAIN_ID, LOCALHOST discovery, no CYCLONEDDS_URI on either side) with
   ``-p use_sim_time:=true`` as sim.launch.yaml starts it, on a free Xvfb display (``-displayfd``)
   with ``LIBGL_ALWAYS_SOFTWARE=1``;
2. takes screenshots (``import -window root``) until one shows the robot path drawn in the 3D
   view (pixels of the Path display's colour: RViz has updated with data; before its first
   update every display shows its initial Ok) and, in the Displays panel, exactly one blue row
   per enabled display of the config (six) and no Warn/Error-coloured pixel at all (neither a
   display nor Global Status, which warns while the fixed frame has no TF); it fails with the
   rows it saw when that does not happen within the deadline (a config that does not load
   shows no rows and fails too);
3. checks that rviz2 logged no warning or error (incompatible QoS, failed plugins, bad config);
4. checks with a real ROS 2 subscriber (rclpy, each display's QoS) that every display's topic
   delivers messages in this run: RViz 14 keeps a topic display Ok ("Topic: OK") when nothing
   is published, so the colour alone does not show that data arrived;
5. saves the screenshot as ``rviz_demo.png`` in the test's tmp dir.

rviz2 that dies of SIGSEGV before it drew data is started again once, with a note in the output
(seen once in about 20 starts, not reproduced under gdb); any other exit fails the test.
``test_reader_tells_ok_from_warn_and_error`` checks the panel reader on drawn stand-ins, without
ROS 2.

Every process it starts (Xvfb, rviz2, the launch and its nodes) is stopped at the end, also
when it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from rt_helpers import REPO, Proc

pytestmark = [pytest.mark.xdist_group('dds'), pytest.mark.timeout(240)]

CONFIG = REPO / 'config' / 'ior.rviz'
OK_BLUE = (40, 120, 197)  # enabled display, status Ok (rviz_common Display::getViewData)
WARN = (192, 128, 0)  # StatusProperty::status_colors_[Warn]
ERROR = (192, 32, 32)  # StatusProperty::status_colors_[Error]
PATH_COLOUR = (25, 255, 0)  # the Path display's colour in config/ior.rviz
BACKGROUND = (48, 48, 48)  # Global Options → Background Color of config/ior.rviz
DEADLINE_S = 45.0  # rviz2 started → all displays Ok (software GL on a loaded 2-core machine)


def _missing_tool(ros_env: dict[str, str]) -> str:
    if shutil.which('rviz2', path=ros_env.get('PATH')) is None:
        return 'rviz2 is not installed with ROS 2 (../shared/tools/ros2/install.sh installs it)'
    if shutil.which('Xvfb') is None:
        return 'Xvfb is not installed (apt-get install xvfb)'
    if shutil.which('import') is None:
        return "ImageMagick's import is not installed (apt-get install imagemagick)"
    return ''


@pytest.fixture
def xvfb() -> Iterator[str]:
    """A fresh X server on a display number Xvfb picks itself (``-displayfd``); yields ':N'."""
    if shutil.which('Xvfb') is None:
        pytest.skip('Xvfb is not installed (apt-get install xvfb)')
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(['Xvfb', '-displayfd', str(write_fd), '-screen', '0', '1280x800x24',
                               '-nolisten', 'tcp'], pass_fds=(write_fd,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as stream:
            number = stream.readline().strip()
        assert number.isdigit(), f'Xvfb did not report a display (exit {server.poll()})'
        yield f':{number}'
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


# ------------------------------------------------------------------------ reading the screenshot
@dataclass(frozen=True)
class Row:
    """One line of coloured text in the Displays panel: its top pixel row and its colour."""

    y: int
    colour: str  # 'ok', 'warn' or 'error'


def enabled_displays(config: Path = CONFIG) -> list[str]:
    """Names of the displays the config enables, in panel order."""
    manager = yaml.safe_load(config.read_text(encoding='utf-8'))['Visualization Manager']
    return [d['Name'] for d in manager['Displays'] if d.get('Enabled', True)]


def read_rgb(path: Path) -> np.ndarray:
    """The screenshot as an ``[H, W, 3]`` uint8 array."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert('RGB'))


def is_colour(rgb: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    return np.all(rgb == np.array(colour, dtype=np.uint8), axis=-1)


def panel_box(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the Displays tree: the longest white run down the column
    just inside the window's left edge, up to the 3D view (where the background colour
    starts along that band)."""
    white = is_colour(rgb[:, 3], (255, 255, 255))
    best, start = (0, 0), None
    for y, on in enumerate([*white, False]):
        if on and start is None:
            start = y
        elif not on and start is not None:
            best = max(best, (start, y), key=lambda run: run[1] - run[0])
            start = None
    top, bottom = best
    background = is_colour(rgb[(top + bottom) // 2], BACKGROUND)
    runs = np.convolve(background.astype(int), np.ones(20, dtype=int), mode='valid')
    right = int(np.argmax(runs == 20)) if np.any(runs == 20) else rgb.shape[1] // 2
    return 0, top, right, bottom


def status_rows(rgb: np.ndarray) -> list[Row]:
    """Rows of Ok/Warn/Error-coloured text in the Displays panel, top to bottom."""
    left, top, right, bottom = panel_box(rgb)
    panel = rgb[top:bottom, left:right]
    rows: list[Row] = []
    for kind, colour in (('ok', OK_BLUE), ('warn', WARN), ('error', ERROR)):
        ys = np.flatnonzero(is_colour(panel, colour).any(axis=1))
        for i, y in enumerate(ys):
            if i == 0 or y - ys[i - 1] > 5:  # rows are 19 px apart, glyphs about 12 px high
                rows.append(Row(top + int(y), kind))
    return sorted(rows, key=lambda row: row.y)


def verdict(rows: list[Row], names: list[str]) -> str:
    """'' when every enabled display (and Global Status) is Ok, else what is not."""
    ok = [r for r in rows if r.colour == 'ok']
    if len(ok) == len(names) and len(rows) == len(names):
        return ''
    # the displays are the last len(names) coloured rows; Global Status, above them, is
    # coloured only when it is not Ok
    labels = (['Global Status'] * max(len(rows) - len(names), 0) + names)[-len(rows):]
    seen = ', '.join(f'{label}: {row.colour}' for label, row in zip(labels, rows))
    return f'{len(ok)} of {len(names)} displays Ok; rows seen: {seen or "none"}'


def path_pixels(rgb: np.ndarray) -> int:
    """Pixels of the Path display's colour in the 3D view (right of the Displays panel)."""
    _, top, right, bottom = panel_box(rgb)
    return int(is_colour(rgb[top:bottom, right:], PATH_COLOUR).sum())


# A real ROS 2 subscriber in the test's domain with each display's QoS (config/ior.rviz: reliable,
# volatile, keep last 5; TF as rviz's listener: reliable, keep last 100): what a display's
# "Topic: N messages received" status would count. Prints one JSON line of counts.
TOPIC_PROBE = """
import json, sys, time
import rclpy
from nav_msgs.msg import Odometry, Path
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray
rclpy.init()
node = rclpy.create_node('rviz_test_topic_probe')
topics = {'/robot/odom': Odometry, '/robot/path': Path, '/slice_markers': MarkerArray,
          '/twin_markers': MarkerArray, '/tf': TFMessage}
counts = dict.fromkeys(topics, 0)
def counter(name):
    def on_message(_msg):
        counts[name] += 1
    return on_message
for name, kind in topics.items():
    node.create_subscription(kind, name, counter(name), 100 if name == '/tf' else 5)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end and min(counts.values()) < 3:
    rclpy.spin_once(node, timeout_sec=0.1)
print('counts ' + json.dumps(counts), flush=True)
"""


# ------------------------------------------------------------------------ the reader on its own
def _window(colours: list[tuple[int, int, int]], path_px: int = 0) -> np.ndarray:
    """A drawn stand-in of the RViz window: white tree at the left, one 8-px text line per
    colour (19 px apart), the 3D view's background at the right with ``path_px`` path pixels."""
    rgb = np.full((400, 600, 3), 239, dtype=np.uint8)
    rgb[50:350, 0:250] = 255
    rgb[40:360, 260:] = BACKGROUND
    for row, colour in enumerate(colours):
        rgb[60 + 19 * row:68 + 19 * row, 40:40 + 10 * (row + 3)] = colour
    rgb[200, 300:300 + path_px] = PATH_COLOUR
    return rgb


def test_reader_tells_ok_from_warn_and_error() -> None:
    names = [f'display {i}' for i in range(3)]
    assert panel_box(_window([])) == (0, 50, 260, 350)
    assert verdict(status_rows(_window([OK_BLUE] * 3)), names) == ''
    assert verdict(status_rows(_window([OK_BLUE] * 2)), names) == \
        '2 of 3 displays Ok; rows seen: display 1: ok, display 2: ok'
    assert verdict(status_rows(_window([OK_BLUE, ERROR, OK_BLUE])), names) == \
        '2 of 3 displays Ok; rows seen: display 0: ok, display 1: error, display 2: ok'
    assert verdict(status_rows(_window([WARN, OK_BLUE, OK_BLUE, OK_BLUE])), names) == \
        '3 of 3 displays Ok; rows seen: Global Status: warn, display 0: ok, display 1: ok, ' \
        'display 2: ok'
    assert verdict(status_rows(_window([])), names) == '0 of 3 displays Ok; rows seen: none'
    assert path_pixels(_window([], path_px=80)) == 80


# ------------------------------------------------------------------------------------- the test
@pytest.mark.ros2
def test_rviz_shows_every_display_ok_with_the_demo_running(ros, xvfb: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import rt_ros2

    ros_env = rt_ros2.domain_environment(rt_ros2.ros_environment(), ros.domain_id, ros.log_dir)
    missing = _missing_tool(ros_env)
    if missing:
        pytest.skip(missing)
    names = enabled_displays()
    assert len(names) == 7, names
    runtime_dir = tmp_path / 'xdg'
    runtime_dir.mkdir(mode=0o700)
    ros_env.update({'DISPLAY': xvfb, 'LIBGL_ALWAYS_SOFTWARE': '1',
                    'XDG_RUNTIME_DIR': str(runtime_dir)})
    started = time.monotonic()

    def start_rviz() -> Proc:
        proc = Proc(['rviz2', '-d', str(CONFIG), '--ros-args', '-p', 'use_sim_time:=true'],
                    ros_env, cwd=tmp_path, group=True)
        ros.procs.append(proc)
        return proc

    launch = ros.ior('launch', 'launch/sim.launch.yaml')
    rviz: Proc | None = None
    try:
        rviz = start_rviz()  # while the nodes start: both take seconds on a loaded machine
        script = tmp_path / 'topic_probe.py'
        script.write_text(TOPIC_PROBE, encoding='utf-8')
        probe = Proc([sys.executable, str(script), '60'], ros_env, cwd=tmp_path)
        ros.procs.append(probe)
        launch.wait_for(r'\[robot_controller\]: control period', timeout=90)
        launch.wait_for(r'\[slice_broker\]: slice allocation', timeout=60)
        launch.wait_for(r'\[digital_twin\]: digital twin', timeout=60)
        rviz.wait_for(r'OpenGl version', timeout=60)

        shot = tmp_path / 'rviz_demo.png'
        problem, attempts, drawn = 'no screenshot taken', 0, 0
        deadline = time.monotonic() + DEADLINE_S
        restarted = False
        while time.monotonic() < deadline:
            if rviz.proc.poll() is not None:
                # rviz2 14.1.5 under Xvfb crashed once in ~20 starts with SIGSEGV before its
                # first frame (not reproduced under gdb): start it again, once, and say so
                if restarted or drawn or rviz.proc.returncode != -signal.SIGSEGV:
                    break
                print('rviz2 crashed at start (SIGSEGV); starting it again:\n' + rviz.text())
                restarted, rviz = True, start_rviz()
                rviz.wait_for(r'OpenGl version', timeout=60)
            attempts += 1
            grab = subprocess.run(['import', '-window', 'root', str(shot)],
                                  env={**os.environ, 'DISPLAY': xvfb}, capture_output=True,
                                  text=True, timeout=30)
            assert grab.returncode == 0, grab.stderr
            rgb = read_rgb(shot)
            drawn = path_pixels(rgb)
            # judge only a frame RViz drew after data arrived: before its first update every
            # display shows the initial Ok
            problem = verdict(status_rows(rgb), names)
            if drawn <= 50:
                problem = (f'robot path not drawn ({drawn} pixels of {PATH_COLOUR}); panel: '
                           f'{problem or "all Ok"}')
            if not problem:
                break
            time.sleep(0.5)
        assert rviz.proc.poll() is None, \
            f'rviz2 exited with {rviz.proc.returncode}:\n' + rviz.text()
        complaints = [m.string for m in rviz.matches(r'\[(WARN|ERROR|FATAL)\]')]
        assert not problem, f'after {attempts} screenshots ({shot}): {problem}; {complaints}'
        assert not complaints, complaints

        probe.wait(timeout=70)
        counts = json.loads(probe.wait_for(r'^counts ', timeout=5)[0].string[len('counts '):])
        assert min(counts.values()) >= 3, counts
        print(f'rviz: all {len(names)} displays Ok on screenshot {attempts}, '
              f'{time.monotonic() - started:.1f} s after the launch; {shot}; topics {counts}')
    finally:
        if rviz is not None:
            try:
                rviz.interrupt(timeout=10)
            except subprocess.TimeoutExpired:
                rviz.kill()
        if launch.proc.poll() is None:
            launch.interrupt(timeout=30)
