"""Thin ROS 2 nodes: parameters -> config -> core object -> publishers/subscriptions."""
