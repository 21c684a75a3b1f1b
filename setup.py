"""pip route for ior_ros (machines without ROS 2): same package, same console scripts."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def data_files():
    """Install launch/, config/ and msg/ where ROS 2 tools look for a package's share folder."""
    out = [('share/ament_index/resource_index/packages', ['resource/ior_ros']),
           ('share/ior_ros', ['package.xml'])]
    for folder in ('launch', 'config', 'msg'):
        for path in sorted((HERE / folder).rglob('*')):
            if path.is_file():
                rel = path.relative_to(HERE)
                out.append((f'share/ior_ros/{rel.parent}', [str(rel)]))
    return out


setup(
    name='ior_ros',
    version='0.1.0',
    description='Internet-of-Robots stack: 5G slicing, delay-robust control and a digital twin '
                'as ROS 2 nodes',
    long_description=(HERE / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_packages(include=['ior_ros', 'ior_ros.*']),
    package_data={'ior_ros': ['py.typed', 'core/control/*.json']},
    include_package_data=True,
    data_files=data_files(),
    install_requires=[
        'numpy>=1.24',
        'scipy>=1.10',
        'pydantic>=2.5',
        'pyyaml>=6',
        'matplotlib>=3.7',
        'tqdm>=4.60',
        'cvxpy>=1.4',
        'clarabel>=0.6',
        'torch>=2.4',
        'gymnasium[mujoco]>=1.0',
        'stable-baselines3>=2.3',
        'cyclonedds>=0.10.5',
        'rosbags>=0.10',
        'mcap>=1.1',
        'mcap-ros2-support>=0.5',
        'websockets>=12',
        'pyserial>=3.5',
        'numba>=0.59',  # compiled per-slot scheduler loops (core/ran/cell.py; numpy fallback)
    ],
    extras_require={
        'dev': ['pytest>=8', 'pytest-timeout>=2.2', 'pytest-xdist>=3.5', 'hypothesis>=6.100',
                'ruff>=0.5', 'mypy>=1.10', 'types-PyYAML'],
        # `ior reproduce ID --ray-address ADDR`: sweeps on a Ray cluster (docs/sweeps.md)
        'cluster': ['ray[default]>=2.9'],
    },
    entry_points={
        'console_scripts': [
            'ior = ior_ros.cli:main',
        ],
    },
)
