"""The ROS 2 layer: node API, DDS transport, messages, launch, bags."""
