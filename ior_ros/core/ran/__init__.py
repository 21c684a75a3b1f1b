"""ior_ros.core.ran."""
