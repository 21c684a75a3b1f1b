"""I/O clients for real equipment and their wire-level emulators (no ROS)."""
