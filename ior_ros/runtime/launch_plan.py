"""
What a launch file asks for, once its substitutions are resolved: the processes to start (with
the command line ``ros2 launch`` would build), the declared arguments and the environment.
:mod:`ior_ros.runtime.launch_yaml` makes a plan from a file; :mod:`ior_ros.runtime.launch_runner`
starts and supervises it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ['LaunchArgument', 'ProcessSpec', 'LaunchPlan']


@dataclass
class LaunchArgument:
    """A declared ``arg``."""

    name: str
    default: str | None
    description: str
    source: str


@dataclass
class ProcessSpec:
    """One process to start."""

    label: str
    cmd: list[str]
    output: str = 'log'
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    required: bool = False
    respawn: bool = False
    respawn_delay_s: float = 0.0
    node_name: str | None = None
    namespace: str | None = None
    source: str = ''


@dataclass
class LaunchPlan:
    """Everything a launch file asks for, with substitutions resolved."""

    processes: list[ProcessSpec] = field(default_factory=list)
    arguments: list[LaunchArgument] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    env: dict[str, str | None] = field(default_factory=dict)
    temp_dir: Path | None = None
