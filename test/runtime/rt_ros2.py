"""
A real ROS 2 Jazzy for the tests: where it is, its environment, and this package built by colcon.

Tests marked ``ros2`` need it; ``conftest.py`` skips them with one line saying why when it is
absent. ROS 2 is found through ``$ROS_SETUP`` or ``/opt/ros/jazzy/setup.bash`` (what
``../shared/tools/ros2/install.sh`` installs). Its environment is the output of sourcing that file
in a clean shell, so nothing of the test's own virtual environment leaks into the ROS tools;
the ROS tools run on Debian's ``/usr/bin/python3`` (their shebang), and processes of ours that
should run on rclpy use this interpreter with the setup file's ``PYTHONPATH``.

The overlay (:func:`colcon_overlay`) is this package built with ``colcon build`` from the files
git tracks, once per content hash, shared by the xdist workers through a lock file, and kept in
``.pytest_cache/colcon-ws/`` so an unchanged tree is not built twice.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SETUP = Path('/opt/ros/jazzy/setup.bash')
RMW = 'rmw_cyclonedds_cpp'
# what the test environment keeps from ours when it builds a ROS one (everything else comes from
# sourcing the setup file in a clean shell)
_KEEP = ('HOME', 'LANG', 'LC_ALL', 'TERM', 'TMPDIR', 'PYTEST_XDIST_WORKER')


def setup_file() -> Path:
    """The ROS 2 setup file the tests use: ``$ROS_SETUP`` or /opt/ros/jazzy/setup.bash."""
    return Path(os.environ.get('ROS_SETUP') or DEFAULT_SETUP)


def sourced_environment(setup: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment after ``source setup`` in a clean bash (``base`` as the starting one)."""
    start = {key: value for key, value in (base or os.environ).items() if key in _KEEP}
    start['PATH'] = '/usr/local/bin:/usr/bin:/bin'
    if base is not None:
        start.update(base)
    out = subprocess.run(['bash', '-c', f'source "{setup}" >/dev/null 2>&1 && env -0'],
                         env=start, capture_output=True, timeout=60, check=True)
    env = dict(item.split('=', 1) for item in out.stdout.decode().split('\0') if '=' in item)
    for key in ('_', 'SHLVL', 'PWD', 'OLDPWD'):
        env.pop(key, None)
    return env


@functools.cache
def probe() -> tuple[dict[str, str] | None, str]:
    """(ROS environment, '') when a usable ROS 2 is installed, else (None, why not)."""
    setup = setup_file()
    if not setup.is_file():
        return None, (f'ROS 2 not found: {setup} does not exist (install it with '
                      '../shared/tools/ros2/install.sh, or set ROS_SETUP)')
    try:
        env = sourced_environment(setup)
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f'ROS 2 at {setup} cannot be sourced: {exc}'
    env['RMW_IMPLEMENTATION'] = RMW
    check = subprocess.run([sys.executable, '-c', 'import rclpy, rosidl_runtime_py'], env=env,
                           capture_output=True, text=True, timeout=60)
    if check.returncode != 0:
        last = (check.stderr.strip().splitlines() or ['?'])[-1]
        return None, f'ROS 2 at {setup} found but rclpy does not import here: {last}'
    if shutil.which('ros2', path=env.get('PATH')) is None:
        return None, f'ROS 2 at {setup} found but it has no ros2 command'
    return env, ''


def available() -> bool:
    """True when ROS 2 can be used by the tests."""
    return probe()[0] is not None


def ros_environment() -> dict[str, str]:
    """A copy of the ROS 2 environment (call only from tests marked ros2)."""
    env, why = probe()
    if env is None:
        raise RuntimeError(why)
    return dict(env)


# ----------------------------------------------------------------------------- the colcon overlay
def package_files(repo: Path = REPO) -> list[Path]:
    """The files of the package as git tracks them (what a clean clone holds), plus new ones."""
    out = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                         cwd=repo, capture_output=True, check=True)
    names = sorted({name for name in out.stdout.decode().split('\0') if name})
    return [repo / name for name in names if (repo / name).is_file()]


def copy_package(destination: Path, repo: Path = REPO) -> Path:
    """Copy the package (tracked and untracked-not-ignored files) to ``destination``."""
    for path in package_files(repo):
        rel = path.relative_to(repo)
        if rel.parts[0] in ('results', 'test', 'benchmarks', 'docs', 'scripts'):
            continue  # not part of what colcon builds or installs
        target = destination / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return destination


def _tree_hash(repo: Path = REPO) -> str:
    digest = hashlib.sha256()
    for path in package_files(repo):
        rel = path.relative_to(repo)
        if rel.parts[0] in ('results', 'test', 'benchmarks', 'docs', 'scripts'):
            continue
        digest.update(str(rel).encode() + b'\0' + path.read_bytes() + b'\0')
    return digest.hexdigest()[:16]


def colcon_build(workspace: Path, env: dict[str, str], timeout: float = 900.0
                 ) -> subprocess.CompletedProcess[str]:
    """``colcon build`` in ``workspace`` (its ``src/`` holds the package) with Debian's python."""
    build_env = dict(env)
    build_env['PATH'] = '/usr/local/bin:/usr/bin:/bin:' + build_env.get('PATH', '')
    build_env.pop('PYTHONPATH_IOR', None)
    return subprocess.run(['colcon', 'build', '--event-handlers', 'console_direct-',
                           '--cmake-args', '-DBUILD_TESTING=OFF'],
                          cwd=workspace, env=build_env, capture_output=True, text=True,
                          timeout=timeout)


def colcon_overlay(cache_root: Path | None = None) -> tuple[Path, float]:
    """
    This package built by colcon (install prefix, build seconds; 0 when it was cached).

    Built once per content hash of the package's files; concurrent callers (xdist workers) wait
    on one lock. Raises RuntimeError with colcon's output when the build fails.
    """
    env = ros_environment()
    root = cache_root or REPO / '.pytest_cache' / 'colcon-ws'
    root.mkdir(parents=True, exist_ok=True)
    key = _tree_hash()
    workspace = root / key
    done = workspace / 'BUILD_OK'
    with open(root / '.lock', 'w', encoding='utf-8') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_file():
            return workspace / 'install', 0.0
        # keep the cache small, but not so small that a concurrent run of another tree (another
        # checkout's tests, say) loses the overlay its running processes use: the newest three
        trees = sorted((d for d in root.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime)
        for old in trees[:-2]:
            shutil.rmtree(old, ignore_errors=True)
        copy_package(workspace / 'src' / 'ior_ros')
        start = time.monotonic()
        result = colcon_build(workspace, env)
        seconds = time.monotonic() - start
        if result.returncode != 0:
            raise RuntimeError(f'colcon build failed ({result.returncode}):\n'
                               f'{result.stdout[-4000:]}\n{result.stderr[-4000:]}')
        done.write_text(f'{seconds:.1f}\n', encoding='utf-8')
        return workspace / 'install', seconds


@functools.cache
def overlay_environment() -> dict[str, str]:
    """The ROS environment with this package's colcon overlay sourced on top."""
    install, _ = colcon_overlay()
    env = sourced_environment(install / 'setup.bash', base=ros_environment())
    env['RMW_IMPLEMENTATION'] = RMW
    return env


def domain_environment(base: dict[str, str], domain_id: int, log_dir: Path) -> dict[str, str]:
    """``base`` placed in one test's ROS domain on loopback (the same rules as RosEnv)."""
    env = dict(base)
    env.update({'ROS_DOMAIN_ID': str(domain_id), 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
                'RMW_IMPLEMENTATION': RMW, 'PYTHONUNBUFFERED': '1', 'OMP_NUM_THREADS': '1',
                'ROS_LOG_DIR': str(log_dir)})
    env.pop('CYCLONEDDS_URI', None)
    return env
