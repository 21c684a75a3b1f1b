"""ROS-free science of ior_ros: radio, control, twin, RL and slicing models."""
