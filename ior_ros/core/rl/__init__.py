"""ior_ros.core.rl."""
