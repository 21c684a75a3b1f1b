"""ior_ros.core.control."""
