"""
Writing a bag's ``metadata.yaml`` (``rosbag2_bagfile_information``, format version 9 as Jazzy's
rosbag2 and rosbags write it) atomically: the text goes to a temporary file in the bag folder,
which is fsynced and renamed over ``metadata.yaml`` (then the folder is fsynced), so a reader,
or a crash, sees the old file or the new one, never half of one.

The recorder writes it when it starts, refreshes it while it records (describing what is on disk
then) and writes the final one when it stops; ``ior bag reindex`` writes it from the storage
files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ['TopicEntry', 'FileEntry', 'bagfile_information', 'metadata_text', 'write_metadata',
           'write_atomically', 'sync_folder', 'qos_list', 'qos_text', 'EMPTY_START_NS',
           'ROS_DISTRO', 'TMP_SUFFIX']

# rosbag2's "no message yet" start (the largest time point), as rosbags writes it
EMPTY_START_NS = 2**63 - 1
# the ROS 2 distribution whose bag format (metadata version 9, QoS as Jazzy writes it) this is
ROS_DISTRO = 'jazzy'
TMP_SUFFIX = '.ior-tmp'  # temporary files being written in a bag folder end with this


@dataclass
class TopicEntry:
    """One topic of a bag: what ``topics_with_message_count`` holds."""

    name: str
    type: str
    serialization_format: str = 'cdr'
    offered_qos_profiles: list[dict[str, Any]] = field(default_factory=list)  # version 9 form
    type_description_hash: str = ''
    message_count: int = 0


@dataclass
class FileEntry:
    """One storage file of a bag: what ``files`` holds."""

    path: str  # relative to the bag folder
    start_ns: int
    duration_ns: int
    message_count: int


def qos_list(profiles: Any) -> list[dict[str, Any]]:
    """rosbags' Qos tuples → the version 9 ``offered_qos_profiles`` list."""
    from rosbags.rosbag2.metadata import dump_qos_v9

    return [dict(item) for item in dump_qos_v9(list(profiles))]


def qos_text(profiles: Any) -> str:
    """The same list as YAML text (what MCAP channel metadata and sqlite3 topics store)."""
    import yaml

    return str(yaml.safe_dump(qos_list(profiles), default_flow_style=False,
                              sort_keys=False)).strip()


def bagfile_information(*, storage: str, files: list[FileEntry], topics: list[TopicEntry],
                        ros_distro: str = ROS_DISTRO, compression_format: str = '',
                        compression_mode: str = '',
                        custom_data: dict[str, str] | None = None) -> dict[str, Any]:
    """The ``rosbag2_bagfile_information`` mapping (version 9) of a bag."""
    counted = [f for f in files if f.message_count]
    start = min((f.start_ns for f in counted), default=EMPTY_START_NS)
    end = max((f.start_ns + f.duration_ns for f in counted), default=start)
    return {
        'version': 9,
        'storage_identifier': storage,
        'duration': {'nanoseconds': max(0, end - start) if counted else 0},
        'starting_time': {'nanoseconds_since_epoch': start},
        'message_count': sum(f.message_count for f in files),
        'topics_with_message_count': [
            {'topic_metadata': {'name': t.name, 'type': t.type,
                                'serialization_format': t.serialization_format,
                                'offered_qos_profiles': t.offered_qos_profiles,
                                'type_description_hash': t.type_description_hash},
             'message_count': t.message_count}
            for t in topics],
        'compression_format': compression_format,
        'compression_mode': compression_mode,
        'relative_file_paths': [f.path for f in files],
        'files': [{'path': f.path, 'starting_time': {'nanoseconds_since_epoch': f.start_ns},
                   'duration': {'nanoseconds': f.duration_ns},
                   'message_count': f.message_count} for f in files],
        'custom_data': custom_data or None,
        'ros_distro': ros_distro,
    }


def metadata_text(information: dict[str, Any]) -> str:
    """The YAML of ``metadata.yaml``."""
    import yaml

    return str(yaml.safe_dump({'rosbag2_bagfile_information': information},
                              default_flow_style=False, sort_keys=False))


def write_atomically(path: Path, data: bytes, fsync: bool = True) -> None:
    """Write ``path`` through a temporary file in its folder and a rename (see the module
    docstring); ``fsync`` makes the new content durable before and after the rename."""
    tmp = path.with_name(f'.{path.name}{TMP_SUFFIX}')
    with open(tmp, 'wb') as handle:
        handle.write(data)
        handle.flush()
        if fsync:
            os.fsync(handle.fileno())
    os.replace(tmp, path)
    if fsync:
        sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """fsync a folder (makes a rename in it durable); nothing where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_metadata(folder: Path, information: dict[str, Any], fsync: bool = True) -> None:
    """Write ``folder/metadata.yaml`` atomically."""
    write_atomically(Path(folder) / 'metadata.yaml', metadata_text(information).encode(),
                     fsync)
