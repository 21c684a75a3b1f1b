"""ior_ros.core.slicing."""
