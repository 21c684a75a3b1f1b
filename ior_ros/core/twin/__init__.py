"""ior_ros.core.twin."""
